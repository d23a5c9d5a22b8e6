"""History import rules: issue 11 point 16 (imported history is marked and cannot bend today) and
issue 12 point 11 (a file imports whole or not at all, errors at the file's physical lines, a dry
run and a real run agree). Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from app.models import Dossier, DossierEvent, DossierSequence
from app.reports import history, history_rows
from tests.conftest import VN
from tests.reports.test_history import AGENCY, cli, generate_year, to_csv, upload  # noqa: F401 (cli: fixture)
from tests.workflows.test_scenarios import receive

TODAY = "261123"  # the suite's frozen clock: Monday 23/11/2026, 09:00 in Hà Nội


def _row(code: str, **changes: str) -> dict[str, str]:
    return generate_year(1, seed=21)[0] | {"code": code} | changes


def _count(engine, model=Dossier) -> int:  # noqa: ANN001
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _sequences(engine) -> dict[str, int]:  # noqa: ANN001
    with Session(engine) as s:
        return {r.day.isoformat(): r.last_value for r in s.execute(select(DossierSequence)).scalars()}


# --- issue 11, point 16 ------------------------------------------------------------------------

def test_codes_dated_today_or_later_and_sequences_past_9999_are_refused(client, login, engine):
    admin = login("admin")
    receive(client, login)  # today's counter: 1
    bad = [_row(f"{AGENCY}-{TODAY}-0050"),  # today: would move today's counter under the desk's feet
           _row(f"{AGENCY}-261124-0001"),  # tomorrow
           _row(f"{AGENCY}-250301-10000"),  # past 9999
           _row(f"{AGENCY}-250231-0001"),  # no such day
           _row("000.00.18.H27-250301-0001")]  # our form, but another agency's prefix
    good = _row(f"{AGENCY}-250301-0007")
    for dry_run in ("true", "false"):
        response = upload(client, admin, to_csv([good, *bad]), dry_run=dry_run)
        body = response.json() if dry_run == "true" else response.json()["detail"]
        errors = {e["row"]: " ".join(e["errors"]) for e in body["errors"]}
        assert sorted(errors) == [3, 4, 5, 6, 7], errors
        assert "không trước hôm nay" in errors[3] and "không trước hôm nay" in errors[4]
        assert "vượt quá 9999" in errors[5]
        assert "ngày có thật" in errors[6]
        assert "cơ quan khác" in errors[7]
    assert _sequences(engine) == {"2026-11-23": 1}  # nothing moved, today's counter included
    assert _count(engine) == 1
    # The good row alone goes in, and raises only its own past day.
    assert upload(client, admin, to_csv([good])).json()["created"] == 1
    assert _sequences(engine) == {"2026-11-23": 1, "2025-03-01": 7}
    assert receive(client, login)["code"] == f"{AGENCY}-{TODAY}-0002"


def test_sequences_never_move_for_today_even_without_validation(session, demo):
    """The writer itself keeps today's counter out of reach (belt and braces under validation)."""
    from app.models import Agency

    agency = session.execute(select(Agency).where(Agency.code == AGENCY)).scalar_one()
    today = datetime(2026, 11, 23, tzinfo=VN).date()
    items = [history_rows.ValidRow(2, {"code": f"{AGENCY}-{TODAY}-0099"}, agency, None),  # type: ignore[arg-type]
             history_rows.ValidRow(3, {"code": f"{AGENCY}-250101-0003"}, agency, None)]  # type: ignore[arg-type]
    history._bump_sequences(session, items, today)
    got = {r.day.isoformat(): r.last_value for r in session.execute(select(DossierSequence)).scalars()}
    assert got == {"2025-01-01": 3}
    session.rollback()


def test_imported_rows_carry_their_source_and_reports_can_leave_them_out(client, login, engine):
    admin, reporter = login("admin"), login("baocao")
    rows = generate_year(40, seed=5)
    response = upload(client, admin, to_csv(rows), source="Một cửa cũ 2025")
    assert response.status_code == 200 and response.json()["created"] == 40, response.text
    default = upload(client, admin, to_csv([_row("CU-X-1")]), name="dot-2.csv").json()
    assert default["source"] == "import-history 2026-11-23T09:00:00+0700 dot-2.csv"
    with Session(engine) as s:
        sources = dict(s.execute(select(Dossier.import_source, func.count()).group_by(Dossier.import_source)).all())
        events = s.execute(select(DossierEvent.data).where(DossierEvent.action == "import")).scalars().all()
    assert sources == {"Một cửa cũ 2025": 40, default["source"]: 1}
    assert {e["batch"] for e in events} == set(sources)
    receive(client, login)  # one native dossier in 2026-11

    def get(path: str, **params: str) -> dict:
        answer = client.get(f"/api/v1/reports/{path}", params=params, headers=reporter)
        assert answer.status_code == 200, answer.text
        return answer.json()

    year = get("periodic", period="2025")
    assert year["include_imported"] is True and year["imported_rows"] == 41
    assert year["totals"]["received_total"] + year["totals"]["not_received_total"] == 41
    without = get("periodic", period="2025", include_imported="false")
    assert without["include_imported"] is False and without["imported_rows"] == 0
    assert without["rows"] == [] and without["filters"] == {"imported": "excluded"}
    # The native dossier is counted either way; the imported ones still open in 2026 only with them.
    november_all, november_native = get("periodic", period="2026-11"), get("periodic", period="2026-11",
                                                                          include_imported="false")
    assert november_native["totals"]["received_total"] == 1 and november_native["totals"]["carried_over"] == 0
    assert november_all["imported_rows"] == november_all["totals"]["carried_over"] > 0
    on_time = get("on-time", period="2025", include_imported="false")
    assert on_time["imported_rows"] == 0 and on_time["total"]["resolved_total"] == 0
    assert get("on-time", period="2025")["imported_rows"] == 41
    assert get("indicators", period="2025", include_imported="false")["imported_rows"] == 0
    assert get("indicators", period="2025")["imported_rows"] == 41
    monthly = get("monthly-on-time", months="12")
    assert monthly["include_imported"] and monthly["imported_rows"] > 0
    assert get("monthly-on-time", months="12", include_imported="false")["imported_rows"] == 0
    xlsx = client.get("/api/v1/reports/periodic.xlsx", params={"period": "2025", "include_imported": "false"},
                      headers=reporter)
    from openpyxl import load_workbook

    assert "không gồm hồ sơ nhập từ hệ thống cũ" in load_workbook(io.BytesIO(xlsx.content)).active["A5"].value
    xlsx = client.get("/api/v1/reports/periodic.xlsx", params={"period": "2025"}, headers=reporter)
    assert "gồm 41 hồ sơ nhập từ hệ thống cũ" in load_workbook(io.BytesIO(xlsx.content)).active["A5"].value


# --- issue 12, point 11 ------------------------------------------------------------------------

def _multiline_file() -> tuple[bytes, dict[str, int]]:
    """A CSV whose quoted fields hold line breaks; returns the content and the first line of each code."""
    rows = generate_year(6, seed=9)
    rows[0]["applicant_name"] = "Nguyễn Văn\nA"  # row 1 spans lines 2-3
    rows[1] |= {"code": "BAD-1", "channel": "fax"}  # starts on line 4
    rows[2]["applicant_name"] = "Trần\r\nThị\nB"  # lines 5-7
    rows[3] |= {"code": "BAD-2", "status": "king", "applicant_name": "Phạm\nD"}  # lines 8-9: starts on 8
    rows[4]["applicant_name"] = '"Lê" "C"'  # line 10
    rows[5] |= {"code": "BAD-3", "received_at": "2025-01-01 08:00"}  # line 11
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*history_rows.COLUMNS, "stopped_at"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    content = buffer.getvalue().encode("utf-8")
    return content, {"BAD-1": 4, "BAD-2": 8, "BAD-3": 11}


def test_error_lines_are_physical_lines_of_the_file(client, login):
    content, lines = _multiline_file()
    body = upload(client, login("admin"), content, dry_run="true").json()
    assert {e["code"]: e["row"] for e in body["errors"]} == lines
    physical = content.decode().split("\n")
    for code, line in lines.items():
        assert physical[line - 1].startswith(code)  # the line the report names is where the row starts


def test_a_dry_run_and_a_real_run_agree_and_a_failing_file_writes_nothing(client, login, engine):
    content, _ = _multiline_file()
    admin = login("admin")
    dry = upload(client, admin, content, dry_run="true")
    real = upload(client, admin, content)
    assert dry.status_code == 200 and real.status_code == 422 and real.json()["code"] == "import_rejected"
    dry_body, real_body = dry.json(), real.json()["detail"]
    for body in (dry_body, real_body):
        body.pop("message"), body.pop("source")
    assert dry_body.pop("dry_run") is True and real_body.pop("dry_run") is False
    assert dry_body == real_body and real_body["created"] == 0 and real_body["new_rows"] == 3
    assert _count(engine) == 0 and _count(engine, DossierEvent) == 0 and _sequences(engine) == {}


def test_a_file_goes_in_whole_or_not_at_all_across_batches(client, login, engine, monkeypatch):
    admin = login("admin")
    rows = generate_year(1200, seed=13)
    rows[-1] |= {"status": "king"}  # the last line of a file of three batches
    response = upload(client, admin, to_csv(rows))
    assert response.status_code == 422 and response.json()["detail"]["batches"] == 3
    assert [e["row"] for e in response.json()["detail"]["errors"]] == [1201]
    assert _count(engine) == 0 and _sequences(engine) == {}

    # A database failure in the second batch (a concurrent import of the same codes) undoes the first.
    rows[-1] |= {"status": "resolved" if rows[-1]["resolved_at"] else rows[-1]["status"]}
    ok = generate_year(1200, seed=13)
    real_write = history._write_batch
    calls = []

    def failing_second_batch(session, batch, *args, **kwargs):  # noqa: ANN001, ANN202
        calls.append(len(batch))
        if len(calls) == 2:
            from sqlalchemy.exc import IntegrityError

            raise IntegrityError("INSERT", {}, Exception("uq_dossiers_code"))
        return real_write(session, batch, *args, **kwargs)

    monkeypatch.setattr(history, "_write_batch", failing_second_batch)
    failed = upload(client, admin, to_csv(ok))
    assert failed.status_code == 422 and len(failed.json()["detail"]["errors"]) == 500
    assert _count(engine) == 0 and _sequences(engine) == {}
    monkeypatch.setattr(history, "_write_batch", real_write)
    done = upload(client, admin, to_csv(ok))
    assert done.status_code == 200 and done.json()["created"] == 1200
    assert _count(engine) == 1200


def test_batch_label_is_checked(client, login):
    admin = login("admin")
    for label in ("", "a\x00b", "x" * 201, "dòng\nmới"):
        response = upload(client, admin, to_csv([_row("CU-L-1")]), source=label)
        assert response.status_code == 422 and response.json()["code"], label
    assert upload(client, admin, to_csv([_row("CU-L-1")]), source="Đợt 2 – 2024").json()["source"] == "Đợt 2 – 2024"


def test_cli_labels_the_batch_and_reports_without_imported(cli, tmp_path, engine):  # noqa: F811
    from app.cli import app

    path = tmp_path / "cu.csv"
    path.write_bytes(to_csv(generate_year(30, seed=17)))
    done = cli.invoke(app, ["import-history", str(path), "--source", "Một cửa cũ, đợt CLI"])
    assert done.exit_code == 0 and "Nhãn đợt nhập: Một cửa cũ, đợt CLI" in done.output, done.output
    with Session(engine) as s:
        assert set(s.execute(select(Dossier.import_source)).scalars()) == {"Một cửa cũ, đợt CLI"}
    with_them = cli.invoke(app, ["report", "--agency", AGENCY, "--period", "2025"])
    assert "gồm 30 hồ sơ nhập từ hệ thống cũ" in with_them.output, with_them.output
    without = cli.invoke(app, ["report", "--agency", AGENCY, "--period", "2025", "--without-imported"])
    assert without.exit_code == 0 and "không gồm hồ sơ nhập từ hệ thống cũ" in without.output
    assert without.output.splitlines()[-1].split()[2:4] == ["0", "0"]  # Tổng cộng: nothing carried, nothing new
