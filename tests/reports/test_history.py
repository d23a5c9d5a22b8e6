"""History import: a generated year of dossiers goes in through the API, and the periodic report
equals a hand computation over the file; re-running creates nothing; bad rows are reported."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from sqlmodel import select

from app.models import Dossier, DossierSequence
from app.reports.history_rows import COLUMNS
from tests.conftest import VN
from tests.reports.factory import COUNTS, Spec, oracle
from tests.workflows.test_scenarios import receive

AGENCY = "000.00.17.H26"
PROCEDURES = ["1.005092", "2.001914", "1.004889", "1.006388", "2.002855", "1.000288"]
STATUSES = (["resolved"] * 30 + ["returned"] * 38 + ["refused"] * 5 + ["withdrawn"] * 4 + ["stopped"] * 2
            + ["received"] * 5 + ["processing"] * 8 + ["awaiting_supplement"] * 4 + ["awaiting_payment"] * 4)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def generate_year(n: int, seed: int = 2025) -> list[dict[str, str]]:
    """n dossiers received during 2025 (local time), some still open at the end of the year."""
    rng = random.Random(seed)
    rows, per_day = [], {}
    for i in range(n):
        received = datetime(2025, 1, 1, 7, 30, tzinfo=VN) + timedelta(minutes=rng.randrange(365 * 24 * 60))
        due = received + timedelta(days=rng.randint(1, 40), minutes=rng.randrange(600))
        status = rng.choice(STATUSES)
        row = dict.fromkeys(COLUMNS, "") | {"stopped_at": ""}
        day = received.strftime("%y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        row |= {"code": f"{AGENCY}-{day}-{per_day[day]:04d}" if i % 2 else f"CU-2025-{i:06d}",
                "procedure_code": rng.choice(PROCEDURES), "agency_code": AGENCY,
                "channel": rng.choice(["direct", "direct", "online", "postal"]),
                "online_level": rng.choice(["none", "partial", "full"]), "applicant_name": f"Người nộp số {i}",
                "applicant_id_number": f"0010{i:08d}", "applicant_phone": f"09{i:08d}",
                "return_method": rng.choice(["desk", "desk", "postal"]), "status": status}
        closed = received + timedelta(days=rng.uniform(0.05, 60))
        if status in ("refused", "withdrawn", "stopped") and rng.random() < 0.5:
            row[f"{status}_at"] = _iso(received)  # turned away at the desk: never received
            rows.append(row)
            continue
        row |= {"received_at": _iso(received), "due_at": _iso(due)}
        if status in ("resolved", "returned"):
            row["resolved_at"] = _iso(closed)
            if status == "returned":
                row["returned_at"] = _iso(closed + timedelta(days=rng.uniform(0, 5)))
        elif status in ("refused", "withdrawn", "stopped"):
            row[f"{status}_at"] = _iso(closed)
        if rng.random() < 0.08:
            row["apology_issued_at"] = _iso(received + (due - received) * rng.uniform(0.3, 0.99))
            row["new_due_at"] = _iso(due + timedelta(days=5))
        rows.append(row)
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*COLUMNS, "stopped_at"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _at(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def by_hand(rows: list[dict[str, str]], start: datetime, end: datetime) -> dict:
    """The periodic report computed from the file itself (definitions of docs/REPORTS.md)."""
    specs = []
    for row in rows:
        status = row["status"]
        received, due = _at(row["received_at"]), _at(row["due_at"])
        spec = Spec(procedure=PROCEDURES.index(row["procedure_code"]), channel=row["channel"], received_at=received,
                    due_at=due, returned_at=_at(row["returned_at"]),
                    returned_via=row["return_method"] if row["returned_at"] else None,
                    apologies=[_at(row["apology_issued_at"])] if row["apology_issued_at"] else [])
        if status in ("resolved", "returned"):
            spec.close, spec.closed_at = "resolved", _at(row["resolved_at"])
            resolved_day, due_day = spec.closed_at.astimezone(VN).date(), due.astimezone(VN).date()
            spec.outcome = "late" if spec.closed_at > due else "early" if resolved_day < due_day else "on_time"
        elif status in ("refused", "withdrawn", "stopped"):
            spec.close, spec.closed_at = status, _at(row[f"{status}_at"])
        elif status.startswith("awaiting"):
            spec.paused_at = received
            if status == "awaiting_supplement":
                spec.supplements = [(received, None)]
        specs.append(spec)
    return oracle(specs, [SimpleNamespace(code=c) for c in PROCEDURES], start, end)


def upload(client, headers, content: bytes, name="lich-su.csv", **params):
    return client.post("/api/v1/imports", params=params, headers=headers,
                       files={"file": (name, content, "text/csv")})


def test_a_year_of_history_reports_like_native(client, login, caplog):
    rows = generate_year(2000)
    content = to_csv(rows)
    admin, headers = login("admin"), login("baocao")
    dry = upload(client, admin, content, dry_run="true").json()
    assert dry["dry_run"] and dry["created"] == 0 and dry["valid_rows"] == 2000 and dry["errors"] == []
    assert dry["new_rows"] == 2000
    with caplog.at_level(logging.INFO, logger="motcua.import"):
        result = upload(client, admin, content)
    assert result.status_code == 200, result.text
    body = result.json()
    assert (body["created"], body["new_rows"], body["skipped_existing"], body["errors"]) == (2000, 2000, [], [])
    assert body["batches"] == 4 and body["source"].endswith("lich-su.csv")
    logged = " ".join(r.getMessage() + json.dumps(getattr(r, "fields", {}), default=str) for r in caplog.records)
    assert "Người nộp" not in logged and "0010" not in logged

    for key in ("2025", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2025-07", "2026-Q1", "2026"):
        report = client.get("/api/v1/reports/periodic", params={"period": key}, headers=headers).json()
        start, end = datetime.fromisoformat(report["period"]["start"]), datetime.fromisoformat(report["period"]["end"])
        expected = by_hand(rows, start, end)
        got = {r["procedure_code"]: {k: r[k] for k in COUNTS} for r in report["rows"]}
        assert got == expected["rows"], key
        assert report["totals"] == expected["totals"], key
    year = client.get("/api/v1/reports/periodic", params={"period": "2025"}, headers=headers).json()["totals"]
    assert year["received_total"] > 1600 and year["apologies"] > 80 and year["resolved_late"] > 0
    assert year["carried_over"] + year["received_total"] == (
        year["resolved_total"] + year["in_progress_total"] + year["withdrawn_or_refused"])

    again = upload(client, admin, content).json()
    assert again["created"] == 0 and len(again["skipped_existing"]) == 2000
    indicators = client.get("/api/v1/reports/indicators", params={"period": "2025"}, headers=headers).json()
    timing = {r["procedure_code"]: r for r in indicators["resolution_time"]}
    assert all(r["with_working_time"] == r["resolved"] and r["avg_working_days"] > 0 for r in timing.values())


def test_bad_rows_are_reported_and_nothing_goes_in(client, login):
    good = generate_year(3, seed=7)
    bad = [dict(good[0], code="X-1", received_at="2025-03-01 08:00"),  # no offset
           dict(good[0], code="X-2", agency_code="000.00.18.H27"),  # another agency
           dict(good[0], code="X-3", procedure_code="9.999999"),
           dict(good[0], code="X-4", channel="fax", applicant_name="", due_at="0001-01-01T00:00:00+14:00"),
           dict(good[0], code="X-5", status="resolved", received_at="2025-03-05T08:00:00+07:00",
                due_at="2025-03-10T08:00:00+07:00", resolved_at="2025-03-01T08:00:00+07:00", returned_at="",
                refused_at="", withdrawn_at="", stopped_at="", apology_issued_at="", new_due_at=""),
           dict(good[1]),  # same code as a row above
           dict(good[0], code="X-7", status="returned", received_at="2025-03-05T08:00:00+07:00",
                due_at="2025-03-10T08:00:00+07:00", resolved_at="2099-03-06T08:00:00+07:00", returned_at="",
                refused_at="", withdrawn_at="", stopped_at="", apology_issued_at="", new_due_at="")]
    response = upload(client, login("admin"), to_csv(good + bad))
    assert response.status_code == 422 and response.json()["code"] == "import_rejected"
    body = response.json()["detail"]
    assert body["created"] == 0 and body["new_rows"] == 3 and body["total_rows"] == 10
    assert client.get("/api/v1/reports/periodic", params={"period": "2025"},
                      headers=login("baocao")).json()["totals"]["received_total"] == 0  # whole file or nothing
    errors = {e["row"]: e for e in body["errors"]}
    assert sorted(errors) == [5, 6, 7, 8, 9, 10, 11]  # CSV lines: header is line 1
    assert "múi giờ" in " ".join(errors[5]["errors"])
    assert "cơ quan khác" in " ".join(errors[6]["errors"])
    assert "không có thủ tục" in " ".join(errors[7]["errors"])
    assert errors[8]["errors"][0].startswith("channel:") and errors[8]["errors"][1].startswith("applicant_name:")
    assert "due_at: năm 1 nằm ngoài khoảng 1990–2100." in errors[8]["errors"]
    assert "trước thời điểm tiếp nhận" in " ".join(errors[9]["errors"])
    assert "trùng với dòng 3" in " ".join(errors[10]["errors"])
    joined = " ".join(errors[11]["errors"])
    assert "tương lai" in joined and "returned_at: bắt buộc" in joined
    assert "Người nộp" not in json.dumps(body["errors"], ensure_ascii=False)  # no personal data echoed


def test_import_bumps_a_past_daily_sequence_and_makes_real_dossiers(client, login, clock, session):
    headers = login("baocao")
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=VN))  # the imported code is dated yesterday
    row = generate_year(1, seed=3)[0] | {
        "code": f"{AGENCY}-261123-0042", "status": "returned", "received_at": "2026-11-23T08:00:00+07:00",
        "due_at": "2026-11-23T08:30:00+07:00", "resolved_at": "2026-11-23T08:40:00+07:00",
        "returned_at": "2026-11-23T08:50:00+07:00", "return_method": "postal", "refused_at": "",
        "withdrawn_at": "", "stopped_at": "", "apology_issued_at": "2026-11-23T08:20:00+07:00",
        "new_due_at": "2026-11-25T08:30:00+07:00", "procedure_code": "2.001914"}
    response = client.post("/api/v1/imports", json=[{k: v for k, v in row.items() if v}], headers=login("admin"),
                           params={"source": "Phần mềm một cửa 2019–2025, đợt 1"})
    assert response.status_code == 200 and response.json()["created"] == 1, response.text
    # Yesterday's counter is raised to the imported number; today's is untouched by the import.
    assert receive(client, login)["code"] == f"{AGENCY}-261124-0001"
    sequences = {r.day.isoformat(): r.last_value for r in session.exec(select(DossierSequence))}
    assert sequences == {"2026-11-23": 42, "2026-11-24": 1}
    session.rollback()  # SQLite: end the read, the API writes again below
    desk = login("motcua")
    imported = client.get(f"/api/v1/dossiers/{AGENCY}-261123-0042", headers=desk).json()
    assert imported["outcome"] == "late" and imported["status"] == "returned" and imported["apology_count"] == 1
    stored = session.exec(select(Dossier).where(Dossier.code == f"{AGENCY}-261123-0042")).one()
    assert stored.is_imported and stored.import_source == "Phần mềm một cửa 2019–2025, đợt 1"
    session.rollback()
    events = client.get(f"/api/v1/dossiers/{AGENCY}-261123-0042/events", headers=desk).json()
    assert [e["action"] for e in events] == ["import"]
    totals = client.get("/api/v1/reports/periodic", params={"period": "2026-11"}, headers=headers).json()["totals"]
    assert (totals["resolved_late"], totals["returned_by_post"], totals["apologies"]) == (1, 1, 1)
    assert totals["received_total"] == 2


def test_import_permissions_and_formats(client, login):
    row = {k: v for k, v in generate_year(1, seed=5)[0].items() if v}
    for user in ("motcua", "baocao", "giamdoc"):  # an import is the administrator's, not the reporter's
        denied = client.post("/api/v1/imports", json=[row], params={"dry_run": "true"}, headers=login(user))
        assert denied.status_code == 403 and denied.json()["code"] == "not_permitted"
    assert client.post("/api/v1/imports", json=[row], headers=login("admin")).json()["created"] == 1
    other = client.post("/api/v1/imports", json=[row | {"code": "Y-1"}], headers=login("other_admin"))
    assert other.status_code == 422
    assert other.json()["detail"]["created"] == 0
    assert "cơ quan khác" in other.json()["detail"]["errors"][0]["errors"][0]
    assert client.post("/api/v1/imports", content=b"x", headers={**login("admin"), "Content-Type": "text/plain"}
                       ).status_code == 415
    bad_header = upload(client, login("admin"), b"code,foo\n1,2\n")
    assert bad_header.status_code == 422 and "thiếu cột" in bad_header.json()["message"]
    assert client.post("/api/v1/imports", json={"rows": "nope"}, headers=login("admin")).status_code == 422
    assert client.post("/api/v1/imports", json=[], headers=login("admin")).status_code == 422


@pytest.fixture
def cli(monkeypatch, settings, demo):
    from app.settings import get_settings

    monkeypatch.setenv("MOTCUA_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_import_and_report(cli, tmp_path):
    from app.cli import app

    rows = generate_year(300, seed=11)
    path = tmp_path / "lich-su.csv"
    path.write_bytes(to_csv(rows))
    dry = cli.invoke(app, ["import-history", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "sẽ tạo 300 hồ sơ" in dry.output and "Nhãn đợt nhập: import-history" in dry.output
    done = cli.invoke(app, ["import-history", str(path), "--agency", AGENCY, "--batch-size", "120"])
    assert done.exit_code == 0 and "đã tạo 300 hồ sơ" in done.output, done.output
    again = cli.invoke(app, ["import-history", str(path)])
    assert "bỏ qua 300 mã đã có" in again.output
    path.write_bytes(to_csv([rows[0] | {"code": "Z-1", "status": "king"}]))
    failed = cli.invoke(app, ["import-history", str(path)])
    assert failed.exit_code == 1 and "Dòng 2 (Z-1): status" in failed.output
    assert "không nhập hồ sơ nào" in failed.output
    assert cli.invoke(app, ["import-history", str(tmp_path / "none.csv")]).exit_code == 2

    table = cli.invoke(app, ["report", "--agency", AGENCY, "--period", "2025", "--fill-working-time"])
    assert table.exit_code == 0, table.output
    expected = by_hand(rows, datetime(2024, 12, 31, 17, tzinfo=ZoneInfo("UTC")),
                       datetime(2025, 12, 31, 17, tzinfo=ZoneInfo("UTC")))["totals"]
    assert table.output.splitlines()[-1].split()[:4] == ["Tổng", "cộng", str(expected["carried_over"]),
                                                         str(expected["received_total"])]
    out = tmp_path / "q.xlsx"
    xlsx = cli.invoke(app, ["report", "--agency", AGENCY, "--period", "2025-Q4", "--format", "xlsx",
                            "--output", str(out)])
    assert xlsx.exit_code == 0 and out.read_bytes()[:2] == b"PK"
    assert cli.invoke(app, ["report", "--agency", AGENCY, "--period", "2025-Q9"]).exit_code == 1
