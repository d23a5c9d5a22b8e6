"""Fill a fresh PostgreSQL database with a realistic province, bulk-loaded with COPY.

    .venv/bin/python bench/generate.py [--dossiers 2000000] [--years 3] [--db motcua_bench]
    .venv/bin/python bench/generate.py --open-only 500000 --db motcua_bench_scan   # deadline-scan data

The province: the demo Department of Education and Training (`000.00.17.H26`, its divisions, its
demo users and catalogue) plus 19 district offices (`000.NN.31.H26`, desk/specialist/leader/reporter
users each), 200 procedures in all (the 22 real demo procedures and clones of them), dossiers over
`--years` years ending now (the machine's clock, which the API servers of the benchmarks also use).

Shares (ONE_STOP.md figures where there are some): channels 60 % direct, 30 % online, 10 % postal;
20 % of results returned by post (Bắc Kạn: 245 of 692 returned via BCCI is 35 %, 86 of 692 received);
refused at the desk 1 %, asked to supplement at the desk 2 %, supplement requested during processing
4 %, withdrawn 0.5 %, stopped 0.1 %; resolution time drawn so that about 90 % are early, a few % on
time and 3–4 % late (Bắc Kạn: over 90 % early; Bến Tre target ≥ 98 % on time); every dossier that
reached its due-soon moment unresolved has the apology draft and alerts the deadline scan writes;
75 % of the late ones have an issued apology (form 4) with a new appointment.

Rows are those the service writes (`app.workflows.intake` and `actions`: dossiers, events with `seq = version`,
form-6 step records, clock pauses, supplement requests, shipments, apologies, alerts, daily
sequences), with every deadline computed by the real `WorkingCalendar` and `app.sla.deadlines`
(no pattern reuse for dates). Deliberate shortcuts, stated in docs/BENCHMARKS.md:

* lookup secrets: `codes.hash_secret` costs ~1 ms (PBKDF2), so 1,000 (secret, hash) pairs are
  computed and reused (`secret_for(dossier_id)` gives the secret of any generated dossier); the
  stored format is the service's, only the salts repeat;
* outbox rows (whose portal payload is a full snapshot of ~1.5 kB) are written only for events of
  the last 7 days, with a compact payload, as if sent messages older than a week were purged;
* step-level alerts are not generated (dossier-level due-soon / overdue alerts are).

`resolved_working_minutes` is written as `act(resolve)` now does (`sla.working_minutes_spent`);
the 2,000,000-dossier database of docs/BENCHMARKS.md was generated before that change (NULL there).

Secondary indexes, unique and foreign-key constraints of the bulk tables are dropped before the
load and re-created afterwards from their own definitions (`pg_get_indexdef`,
`pg_get_constraintdef`), so the schema after the load is exactly the migrated one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlmodel import select  # noqa: E402

from app.auth.service import create_agency, create_user  # noqa: E402
from app import parties  # noqa: E402
from app.catalog.demo import DEMO_AGENCY_CODE, demo_catalogue, seed_demo  # noqa: E402
from app.search import name_key  # noqa: E402
from app.catalog.schemas import ProcedureIn  # noqa: E402
from app.catalog.service import import_procedures  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.models import (Agency, Alert, Apology, ClockPause, Dossier, DossierEvent, OutboxMessage,  # noqa: E402
                        Procedure, Shipment, StepRecord, SupplementRequest, User)
from app.settings import Settings  # noqa: E402
from app.sla.calendar import WorkingCalendar  # noqa: E402
from app.sla.deadlines import Pause, classify_outcome, compute_due_at, limit_minutes  # noqa: E402
from app.sla.service import clock_start, refresh_next_alert  # noqa: E402
from app.workflows import codes  # noqa: E402
from app.workflows.transitions import PORTAL_STATUS  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN_URL = os.environ.get("MOTCUA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
JWT_SECRET = "bench-secret-0123456789-0123456789-0123456789"
PASSWORD = "demo1234"
SECRET_POOL = 1000
N_DISTRICTS = 19
N_PROCEDURES = 200
DEPARTMENT_SHARE = 0.40
BULK_TABLES = ("dossiers", "dossier_events", "step_records", "clock_pauses", "supplement_requests", "shipments",
               "apologies", "alerts", "outbox", "dossier_sequences")


# --- settings, database -------------------------------------------------------------------------

def bench_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(env="test", database_url=url, jwt_secret=JWT_SECRET, password_time_cost=1,
                                  password_memory_cost=1024, log_level="WARNING")
    values.update(overrides)
    return Settings(**values)


def db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(name: str) -> str:
    admin = create_engine("postgresql+psycopg://" + ADMIN_URL.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return db_url(name)


def secret_for(dossier_id: int) -> str:
    """The lookup secret of a generated dossier (from the reused pool)."""
    rng = random.Random(dossier_id % SECRET_POOL)
    raw = "".join(rng.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _secret_hashes() -> list[str]:
    return [codes.hash_secret(secret_for(i)) for i in range(SECRET_POOL)]


# --- the province: agencies, users, procedures ----------------------------------------------------

@dataclass
class Office:
    agency_id: int
    code: str
    desk: list[int]
    specialists: list[int]
    leaders: list[int]
    postal: list[int]
    procedures: list[Procedure] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    division_of: dict[str, int] = field(default_factory=dict)


def _clone(template: ProcedureIn, code: str, *, keep_division: bool, index: int) -> ProcedureIn:
    data = template.model_dump()
    data.update(code=code, agency_code=None, name=f"{template.name} (mẫu {index})")
    if not keep_division:
        data["division"] = None
        for step in data["workflow"]:
            step["scope"] = "agency"
    return ProcedureIn.model_validate(data)


def setup_province(factory, settings: Settings, now: datetime) -> list[Office]:  # noqa: ANN001
    templates = demo_catalogue()
    with transaction(factory) as s:
        seed_demo(s, settings=settings, now=now)
        department = s.exec(select(Agency).where(Agency.code == DEMO_AGENCY_CODE)).one()
        for i in range(1, N_DISTRICTS + 1):
            code = f"000.{i:02d}.31.H26"
            create_agency(s, code=code, name=f"Phòng Giáo dục và Đào tạo huyện số {i}", now=now,
                          address=f"Số {i} đường Trung tâm, huyện số {i}", phone="0209 3800 000",
                          head_title="Trưởng phòng")
            for suffix, roles in (("motcua", ["desk"]), ("chuyenvien", ["specialist"]), ("lanhdao", ["leader"]),
                                  ("baocao", ["reporter"])):
                create_user(s, username=f"h{i:02d}_{suffix}", password=PASSWORD, full_name=f"Cán bộ huyện {i}",
                            agency_code=code, roles=roles, settings=settings, now=now, phone="0912000000")
        # 200 procedures: the Department keeps its 22 and gets clones up to 60; districts share 140.
        extra = [_clone(templates[k % len(templates)], f"9.00{k:04d}", keep_division=True, index=k)
                 for k in range(60 - len(templates))]
        import_procedures(s, extra, scope_agency_id=department.id, now=now)
        per_district = [(N_PROCEDURES - 60) // N_DISTRICTS + (1 if i < (N_PROCEDURES - 60) % N_DISTRICTS else 0)
                        for i in range(N_DISTRICTS)]
        for i, count in enumerate(per_district, start=1):
            agency = s.exec(select(Agency).where(Agency.code == f"000.{i:02d}.31.H26")).one()
            items = [_clone(templates[(i + k) % len(templates)], f"9.{i:02d}{k:04d}", keep_division=False, index=k)
                     for k in range(count)]
            import_procedures(s, items, scope_agency_id=agency.id, now=now)
    offices = []
    with transaction(factory) as s:
        agencies = {a.id: a for a in s.exec(select(Agency)).all()}
        scope = {a.id: (a.parent_id if a.is_division else a.id) for a in agencies.values()}
        users = s.exec(select(User)).all()
        for agency in agencies.values():
            if agency.is_division:
                continue
            mine = [u for u in users if scope[u.agency_id] == agency.id]
            office = Office(agency_id=agency.id, code=agency.code,
                            desk=[u.id for u in mine if "desk" in u.roles],
                            specialists=[u.id for u in mine if "specialist" in u.roles],
                            leaders=[u.id for u in mine if "leader" in u.roles],
                            postal=[u.id for u in mine if "postal" in u.roles])
            # Single-agency procedures only: the inter-agency ones (issue 14) and the agencies that only
            # receive or decide (the centre, the People's Committee) are not simulated here.
            office.procedures = [p for p in s.exec(select(Procedure).where(Procedure.agency_id == agency.id)
                                                   .order_by(Procedure.id)).all() if not p.parties]
            if not office.procedures:
                continue
            for p in office.procedures:
                s.expunge(p)
            rng = random.Random(agency.id)
            office.weights = [1.0 / (k + 1) ** 0.8 * rng.uniform(0.7, 1.3) for k in range(len(office.procedures))]
            offices.append(office)
    offices.sort(key=lambda o: (o.code != DEMO_AGENCY_CODE, o.code))
    return offices


# --- one dossier's life -------------------------------------------------------------------------

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Thu", "Minh", "Ngọc", "Quốc", "Thanh", "Gia"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phương", "Quân",
         "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến"]
DOSSIER_COLS = [c.name for c in Dossier.__table__.columns]  # type: ignore[attr-defined]
EVENT_COLS = [c.name for c in DossierEvent.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
STEP_COLS = [c.name for c in StepRecord.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
PAUSE_COLS = [c.name for c in ClockPause.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
SUPP_COLS = [c.name for c in SupplementRequest.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
SHIP_COLS = [c.name for c in Shipment.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
APOLOGY_COLS = [c.name for c in Apology.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
ALERT_COLS = [c.name for c in Alert.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
OUTBOX_COLS = [c.name for c in OutboxMessage.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]


class Cut(Exception):
    """The next event lies after `now`: the dossier stays in the state reached."""


@dataclass
class Batch:
    dossiers: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    steps: list[tuple] = field(default_factory=list)
    pauses: list[tuple] = field(default_factory=list)
    supplements: list[tuple] = field(default_factory=list)
    shipments: list[tuple] = field(default_factory=list)
    apologies: list[tuple] = field(default_factory=list)
    alerts: list[tuple] = field(default_factory=list)
    outbox: list[tuple] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[str], list[tuple]]]:
        return [("dossiers", DOSSIER_COLS, self.dossiers), ("dossier_events", EVENT_COLS, self.events),
                ("step_records", STEP_COLS, self.steps), ("clock_pauses", PAUSE_COLS, self.pauses),
                ("supplement_requests", SUPP_COLS, self.supplements), ("shipments", SHIP_COLS, self.shipments),
                ("apologies", APOLOGY_COLS, self.apologies), ("alerts", ALERT_COLS, self.alerts),
                ("outbox", OUTBOX_COLS, self.outbox)]


class Life:
    """Builds the rows of one dossier, event by event, as `app.workflows` (intake, actions) would."""

    def __init__(self, gen: Generator, batch: Batch, dossier_id: int, office: Office, procedure: Procedure) -> None:
        self.g, self.b, self.o, self.p = gen, batch, office, procedure
        self.cal = gen.cal
        self.d: dict[str, Any] = {name: None for name in DOSSIER_COLS}
        self.d.update(id=dossier_id, agency_id=office.agency_id, receiving_agency_id=office.agency_id,
                      procedure_id=procedure.id, version=0, supplement_count=0, apology_count=0, limit_minutes=0,
                      clock_state="not_started", is_imported=False, calendar_version=0)
        self.open_step: list | None = None  # the step record row being built
        self.last_at: datetime | None = None

    # events ---------------------------------------------------------------------------------
    def ev(self, at: datetime, action: str, actor: int | None, role: str | None, to_status: str, *,
           note: str | None = None, data: dict | None = None, mutate=None) -> None:  # noqa: ANN001
        if at > self.g.now:
            raise Cut
        from_status, from_step = self.d["status"], self.d["current_step"]
        self.last_at = at
        if mutate:
            mutate()
        self.d["status"] = to_status
        self.d["version"] += 1
        self.d["updated_at"] = at
        self.b.events.append((self.d["id"], self.d["version"], at, actor, role, action, from_status, to_status,
                              from_step, self.d["current_step"], note, self.g.dumps(data)))
        self.g.recent_outbox(self, at, action, to_status)

    def open_step_at(self, index: int, at: datetime, by: int | None, assignee: int | None) -> None:
        step = self.p.workflow[index]
        due = self.cal.add_working_minutes(at, int(step["budget_hours"]) * 60)
        self.d.update(current_step=index, assignee_id=assignee, step_started_at=at, step_due_at=due)
        division = self.d["assigned_division_id"] if step.get("scope") == "division" else None
        self.open_step = [self.d["id"], index, step["name"], by, assignee, division, at, due, None, None, None, None]
        self.b.steps.append(self.open_step)  # mutated in place until closed; tuples are made at flush
        self.raw_next_alert()

    def close_step(self, at: datetime, result: str, note: str | None = None) -> None:
        if self.open_step is not None:
            self.open_step[8] = at
            self.open_step[9] = result
            self.open_step[10] = self.open_step[7] is not None and at > self.open_step[7]
            self.open_step[11] = note
            self.open_step = None

    def clear_step(self) -> None:
        self.d.update(current_step=None, assignee_id=None, step_started_at=None, step_due_at=None)

    def raw_next_alert(self) -> None:
        """`refresh_next_alert(dossier)` without calendar (what a workflow change stores), inlined for
        speed; `Generator.check` compares it with the real function on a sample."""
        d = self.d
        if d["clock_state"] != "running":
            d["next_alert_at"] = None
            return
        step_start = d["step_started_at"] if d["step_due_at"] is not None else None
        moments = [t for t in (step_start, d["step_due_at"], d["due_soon_at"], d["due_at"], d["new_due_at"])
                   if t is not None]
        d["next_alert_at"] = min(moments) if moments else None
        if self.g.checks_left and d["id"] % 997 == 0:
            self.g.check(d)

    def start_clock(self, at: datetime) -> None:
        d = self.d
        d["received_at"] = d["received_at"] or at
        # The service's rule: an online submission counts from the next working period after it was
        # submitted, a same-day cut-off procedure up to its appointment (app.sla.service.clock_start).
        d["clock_started_at"], d["limit_minutes"] = clock_start(self.cal, self.p, channel=d["channel"],  # type: ignore[arg-type]
                                                                submitted_at=d["submitted_at"], now=at)
        d["clock_state"] = "running"
        self.set_due()

    def set_due(self) -> None:
        d = self.d
        d["due_at"] = self.cal.add_working_minutes(d["clock_started_at"], d["limit_minutes"])
        d["due_soon_at"] = self.cal.subtract_working_minutes(d["due_at"], self.g.settings.due_soon_window_minutes)
        self.raw_next_alert()

    def stop_clock(self, at: datetime, resolved: bool) -> None:
        if resolved and self.d["due_at"] is not None:
            self.d["resolved_at"] = at
            self.d["outcome"] = classify_outcome(at, self.d["due_at"], VN).value
        self.d["clock_state"] = "stopped"
        self.d["next_alert_at"] = None


class Generator:
    def __init__(self, settings: Settings, offices: list[Office], *, now: datetime, years: float, seed: int,
                 open_only: bool = False) -> None:
        self.settings, self.offices, self.now, self.open_only = settings, offices, now, open_only
        self.cal = WorkingCalendar(tz=settings.timezone, periods=settings.working_hours)
        self.rng = random.Random(seed)
        self.start = now - timedelta(days=365 * years)
        self.hashes = _secret_hashes()
        self.sequences: dict[tuple[int, date], int] = defaultdict(int)
        self.outbox_since = now - timedelta(days=7)
        self.working_days = [d for d in (self.start.date() + timedelta(days=i)
                                         for i in range((now.date() - self.start.date()).days + 1))
                             if self.cal.is_working_day(d)]
        self.office_weights = [DEPARTMENT_SHARE] + [
            (1 - DEPARTMENT_SHARE) * w for w in self._district_weights(len(offices) - 1)]
        self.docs_json = {p.id: json.dumps([{"name": d["name"], "kind": d.get("kind", "either"),
                                             "count": d.get("count", 1)} for d in p.required_documents
                                            if d.get("required", True)], ensure_ascii=False)
                          for o in offices for p in o.procedures}
        self.counts: dict[str, int] = defaultdict(int)
        self.checks_left = 200
        self.json_cache: dict[Any, str] = {}
        for office in offices:  # plain objects: ORM attribute access is slow in the hot loop
            office.procedures = [SimpleNamespace(**{c.name: getattr(p, c.name) for c in Procedure.__table__.columns})
                                 for p in office.procedures]

    def check(self, d: dict[str, Any]) -> None:
        ns = SimpleNamespace(**{k: d.get(k) for k in ("clock_state", "status", "step_started_at", "step_due_at",
                                                      "due_soon_at", "due_at", "new_due_at", "check_due_at",
                                                      "checked_at")})
        refresh_next_alert(ns)  # type: ignore[arg-type]
        assert ns.next_alert_at == d["next_alert_at"], (ns.next_alert_at, d["next_alert_at"])
        self.checks_left -= 1

    def dumps(self, data: dict | None) -> str:
        if not data:
            return "{}"
        key = tuple(data.items())
        try:
            return self.json_cache[key]
        except TypeError:
            return json.dumps(data, ensure_ascii=False)
        except KeyError:
            if len(self.json_cache) > 50_000:
                return json.dumps(data, ensure_ascii=False)
            self.json_cache[key] = value = json.dumps(data, ensure_ascii=False)
            return value

    def _district_weights(self, n: int) -> list[float]:
        raw = [self.rng.uniform(0.5, 1.5) for _ in range(n)]
        return [r / sum(raw) for r in raw]

    # time helpers ---------------------------------------------------------------------------
    def desk_moment(self) -> datetime:
        """A moment in working hours of a working day within the span."""
        day = self.rng.choice(self.working_days)
        minute = self.rng.randrange(self.cal.minutes_per_day)
        morning = self.cal.periods[0]
        return self.cal.add_working_minutes(datetime.combine(day, morning.start, tzinfo=VN), minute) \
            if minute else datetime.combine(day, morning.start, tzinfo=VN)

    def any_moment(self) -> datetime:
        seconds = self.rng.uniform(0, (self.now - self.start).total_seconds())
        at = self.start + timedelta(seconds=seconds)
        local = at.astimezone(VN)
        if local.hour < 6 and self.rng.random() < 0.8:  # fewer submissions at night
            at += timedelta(hours=8)
        return at

    def work(self, at: datetime, lo: float, hi: float) -> datetime:
        return self.cal.add_working_minutes(at, max(1, int(self.rng.uniform(lo, hi))))

    # outbox (last 7 days only) --------------------------------------------------------------
    def recent_outbox(self, life: Life, at: datetime, action: str, status: str) -> None:
        if at < self.outbox_since:
            return
        kind = "sync_new" if action in ("receive", "submit") else "sync_update" if action in (
            "accept", "resolve", "return_result", "supplement_received", "apology_issued") else "progress"
        sent = at < self.now - timedelta(minutes=10)
        payload = {"data": [{"MaHoSo": life.d["code"], "TrangThaiHoSo": PORTAL_STATUS[status]}]}
        life.b.outbox.append(("portal", kind, life.d["id"], json.dumps(payload), "sent" if sent else "pending",
                              1 if sent else 0, at, None, at, at + timedelta(seconds=5) if sent else None))
        notify = {"receive": "received", "accept": "received", "resolve": "result_ready",
                  "return_result": "returned", "request_supplement": "supplement_requested"}.get(action)
        if notify and life.d["applicant_phone"]:
            life.b.outbox.append(("notify", notify, life.d["id"], json.dumps({"to_phone": life.d["applicant_phone"]}),
                                  "sent" if sent else "pending", 1 if sent else 0, at, None, at,
                                  at + timedelta(seconds=5) if sent else None))

    # one dossier ----------------------------------------------------------------------------
    def plans(self, count: int) -> list[tuple[float, int, int, str]]:
        """(moment, office, procedure, channel) of every dossier, in time order: ids and daily
        sequence numbers then follow the order of reception, as in the service."""
        rng, out = self.rng, []
        offices = range(len(self.offices))
        for _ in range(count):
            oi = rng.choices(offices, weights=self.office_weights)[0]
            office = self.offices[oi]
            pi = rng.choices(range(len(office.procedures)), weights=office.weights)[0]
            procedure = office.procedures[pi]
            r = rng.random()
            online_ok = procedure.online_level in ("partial", "full")
            channel = "online" if r < 0.30 and online_ok else \
                "postal" if r > 0.90 and procedure.postal_receipt_allowed else "direct"
            if self.open_only:
                # Received within the procedure's time limit before now: a backlog of open dossiers.
                channel = "direct" if channel == "online" else channel
                span = limit_minutes(procedure.time_limit_value, procedure.time_limit_unit) * 0.9
                t0 = self.cal.subtract_working_minutes(self.now, int(rng.uniform(1, span)))
            else:
                t0 = self.now
                while t0 >= self.now:
                    t0 = self.any_moment() if channel == "online" else self.desk_moment()
            out.append((t0.timestamp(), oi, pi, channel))
        out.sort()
        return out

    def dossier(self, batch: Batch, dossier_id: int, plan: tuple[float, int, int, str]) -> None:
        rng = self.rng
        office = self.offices[plan[1]]
        procedure = office.procedures[plan[2]]
        channel = plan[3]
        t0 = datetime.fromtimestamp(plan[0], UTC)
        life = Life(self, batch, dossier_id, office, procedure)
        d = life.d
        ret = rng.random()
        return_method = "postal" if ret < 0.20 and procedure.postal_return_allowed else \
            "online" if ret < 0.30 and procedure.online_level == "full" and channel == "online" else "desk"
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        phone = f"09{rng.randrange(10**8):08d}" if rng.random() < 0.9 else None
        d.update(channel=channel, applicant_type="individual" if rng.random() < 0.95 else "organization",
                 applicant_name=name, applicant_id_number=f"0{rng.randrange(10**11):011d}", applicant_phone=phone,
                 applicant_email=f"nguoinop{dossier_id}@example.vn" if rng.random() < 0.3 else None,
                 applicant_address=f"Số {rng.randrange(1, 300)} đường Lê Lợi, phường {rng.randrange(1, 20)}",
                 summary=None, documents=self.docs_json[procedure.id], return_method=return_method, note=None,
                 online_level=procedure.online_level if channel == "online" else "none",
                 assigned_division_id=procedure.division_id,
                 lookup_secret_hash=self.hashes[dossier_id % SECRET_POOL], portal_id=None, created_at=t0,
                 updated_at=t0)
        try:
            self.live(life, t0)
        except Cut:
            pass
        self.finish(life)

    def _code(self, life: Life, at: datetime) -> None:
        day = at.astimezone(VN).date()
        key = (life.o.agency_id, day)
        self.sequences[key] += 1
        life.d["code"] = codes.format_code(life.o.code, day, self.sequences[key])

    def live(self, life: Life, t0: datetime) -> None:  # noqa: C901 - one story, told in order
        rng, d, p, o, cal = self.rng, life.d, life.p, life.o, self.cal
        desk = rng.choice(o.desk)
        d["created_at"] = t0
        if d["channel"] == "online":
            self._code(life, t0)
            # The desk checks an online submission within one working day (app.workflows.intake).
            d.update(submitted_at=t0, portal_id=f"G22.{d['id']:010d}", created_by_id=None,
                     check_due_at=cal.add_working_minutes(t0, cal.minutes_per_day))
            life.ev(t0, "submit", None, None, "submitted", data={"portal_id": d["portal_id"]})
            t = self.work(cal.next_working_moment(t0), 5, 240)
            d["received_at"] = None

            def accept() -> None:
                d["checked_at"] = t
                life.start_clock(t)
            life.ev(t, "accept", desk, "desk", "received", mutate=accept)
        else:
            self._code(life, t0)
            d.update(created_by_id=desk, submitted_at=t0)
            if d["channel"] == "postal":
                handed = t0 - timedelta(hours=rng.uniform(2, 60))
                d.update(postal_handed_over_at=handed, submitted_at=handed)
                life.b.shipments.append((d["id"], "inbound", "VNPost", f"EB{d['id']:09d}VN", 0, "applicant",
                                         "delivered", handed, t0, None, None, t0, t0))
            fate = rng.random()
            if fate < 0.01:
                reason = "Hồ sơ không thuộc thẩm quyền giải quyết"
                d.update(refused_at=t0, closing_reason=reason, clock_state="stopped")
                life.ev(t0, "receive", desk, "desk", "refused", note=reason, data={"decision": "refuse"})
                return
            if fate < 0.03:
                items = ["Bản sao giấy khai sinh"]
                d.update(resume_status="received", supplement_count=1)
                life.b.supplements.append([d["id"], t0, desk, json.dumps(items, ensure_ascii=False), None,
                                           None, None, None, None, "reception", d["receiving_agency_id"]])
                life.ev(t0, "receive", desk, "desk", "awaiting_supplement", data={"decision": "request_supplement",
                                                                                  "items": items})
                t = self.work(t0, 60, 480 * 5)
                request = life.b.supplements[-1]

                def arrived() -> None:
                    request[5], request[6] = t, desk
                    life.start_clock(t)
                    request[8] = d["due_at"]
                    d["resume_status"] = None
                life.ev(t, "supplement_received", desk, "desk", "received", mutate=arrived,
                        data={"clock": "start", "due_before": None})
                t0 = t
            else:
                life.start_clock(t0)
                life.ev(t0, "receive", desk, "desk", "received")
            t = t0
        t = self.work(t, 5, 120) if d["channel"] != "online" else self.work(t, 1, 30)

        # Processing: the resolution time decides the outcome (classified by the real rule later).
        work_steps = [i for i, s in enumerate(p.workflow) if s["role"] != "desk"]
        last = work_steps[-1] if work_steps else len(p.workflow) - 1
        roll = rng.random()
        frac = rng.uniform(0.10, 0.80) if roll < 0.88 else rng.uniform(0.80, 1.0) if roll < 0.965 else \
            rng.uniform(1.0, 1.5)
        if self.open_only:
            frac = 2.0
        total = max(10, int(d["limit_minutes"] * frac))
        life.planned_end = cal.add_working_minutes(t, total)
        budgets = [int(p.workflow[i]["budget_hours"]) for i in range(last + 1)]
        shares = [b / sum(budgets) for b in budgets]
        actor_of = {"specialist": o.specialists, "leader": o.leaders, "desk": o.desk}
        assignee = rng.choice(o.specialists) if p.workflow[0]["role"] == "specialist" else None

        def forward0() -> None:
            life.open_step_at(0, t, desk, assignee)
        life.ev(t, "forward", desk, "desk", "processing", mutate=forward0,
                data={"step_name": p.workflow[0]["name"], "assignee": None})
        supplement_at = 0 if rng.random() < 0.04 and d["supplement_count"] == 0 else None
        for i in range(last + 1):
            role = p.workflow[i]["role"]
            actor = d["assignee_id"] or rng.choice(actor_of.get(role, o.desk))
            step_start = t
            minutes = self.step_minutes(life, i, total, shares)
            t = cal.add_working_minutes(t, minutes)
            if supplement_at == i:
                ask = cal.add_working_minutes(step_start, max(1, int(minutes * 0.3)))
                items = ["Bản sao có chứng thực văn bằng"]
                request = [d["id"], ask, actor, json.dumps(items, ensure_ascii=False), None, None, None, d["due_at"],
                           None, "processing", d["agency_id"]]

                def pause() -> None:
                    d.update(resume_status="processing", resume_step=d["current_step"],
                             supplement_count=d["supplement_count"] + 1, clock_state="paused", paused_at=ask,
                             next_alert_at=None)
                    life.b.supplements.append(request)
                self.apology_and_alerts(life, upto=ask)
                life.ev(ask, "request_supplement", actor, role, "awaiting_supplement", mutate=pause,
                        data={"items": items})
                back = self.work(ask, 240, 480 * 6)
                pause_row = [d["id"], "supplement", p.supplement_rule, ask, back,
                             cal.working_minutes_between(ask, back)]

                def resume() -> None:
                    life.b.pauses.append(pause_row)
                    due_before = d["due_at"]
                    d.update(clock_state="running", paused_at=None)
                    if p.supplement_rule == "reset":
                        d["clock_started_at"] = cal.next_working_moment(back)
                        d["due_at"] = cal.add_working_minutes(d["clock_started_at"], d["limit_minutes"])
                    else:  # as app.sla.service does: a wait that began after the appointment moves nothing
                        d["due_at"] = compute_due_at(cal, clock_started_at=d["clock_started_at"],
                                                     limit_minutes=d["limit_minutes"],
                                                     pauses=[Pause(ask, back, "supplement")])
                    d["due_soon_at"] = cal.subtract_working_minutes(d["due_at"],
                                                                    self.settings.due_soon_window_minutes)
                    request[5], request[6], request[8] = back, rng.choice(o.desk), d["due_at"]
                    d["step_started_at"] = back
                    d["step_due_at"] = cal.add_working_minutes(back, int(p.workflow[i]["budget_hours"]) * 60)
                    if life.open_step is not None:
                        life.open_step[7] = d["step_due_at"]
                    d.update(resume_status=None, resume_step=None)
                    life.raw_next_alert()
                    life.supp_data = {"clock": "reset" if p.supplement_rule == "reset" else "resume",
                                      "due_before": due_before.isoformat(), "due_after": d["due_at"].isoformat()}
                life.supp_data = {}
                life.ev(back, "supplement_received", rng.choice(o.desk), "desk", "processing", mutate=resume)
                life.b.events[-1] = life.b.events[-1][:-1] + (json.dumps(life.supp_data),)
                t = cal.add_working_minutes(back, max(1, int(minutes * 0.7)))
            if i < last:
                nxt = p.workflow[i + 1]
                nxt_assignee = None

                def fwd(i: int = i, at: datetime = t, actor: int = actor, nxt_assignee: int | None = nxt_assignee) -> None:
                    life.close_step(at, "forwarded")
                    life.open_step_at(i + 1, at, actor, nxt_assignee)
                self.apology_and_alerts(life, upto=t)
                life.ev(t, "forward", actor, role, "processing", mutate=fwd,
                        data={"step_name": nxt["name"], "assignee": None})
            else:
                self.apology_and_alerts(life, upto=t)
                reference = f"{rng.randrange(1, 999)}/QĐ-SGDĐT"

                def resolve(at: datetime = t) -> None:
                    d["result_reference"] = reference
                    life.close_step(at, "resolved")
                    life.stop_clock(at, resolved=True)
                    # sla.working_minutes_spent: reception to result, less closed waits for the applicant
                    waited = sum(row[5] or 0 for row in life.b.pauses if row[0] == d["id"]
                                 and row[3] >= d["received_at"])
                    d["resolved_working_minutes"] = max(0, cal.working_minutes_between(d["received_at"], at) - waited)
                    if last + 1 < len(p.workflow):
                        life.open_step_at(last + 1, at, actor, None)
                        d["next_alert_at"] = None
                    else:
                        life.clear_step()
                life.ev(t, "resolve", actor, role, "resolved", mutate=resolve,
                        data={"outcome": None, "result_reference": reference})
                ev = life.b.events[-1]
                life.b.events[-1] = ev[:-1] + (json.dumps({"outcome": d["outcome"], "result_reference": reference},
                                                          ensure_ascii=False),)
        # Return of the result.
        t = self.work(t, 30, 480 * 4)
        method = d["return_method"]
        desk = rng.choice(o.desk)

        def returned(at: datetime = t) -> None:
            if method == "postal":
                life.b.shipments.append((d["id"], "outbound", "VNPost", f"EO{d['id']:09d}VN", 25000, "applicant",
                                         "delivered" if at + timedelta(days=2) < self.now else "handed_over", at,
                                         at + timedelta(days=2) if at + timedelta(days=2) < self.now else None,
                                         d["applicant_address"], None, at, at))
            d.update(returned_at=at, returned_via=method,
                     returned_to=d["applicant_name"] if method == "desk" else None)
            life.close_step(at, "returned")
            life.clear_step()
        life.ev(t, "return_result", desk, "desk", "returned", mutate=returned,
                data={"method": method, "tracking_number": f"EO{d['id']:09d}VN" if method == "postal" else None})

    def step_minutes(self, life: Life, i: int, total: int, shares: list[float]) -> int:
        """Working minutes of step i: its budget's share of the drawn resolution time (a subclass
        draws steps of their own: bench/late_risk_bench.py)."""
        return max(1, int(total * shares[i]))

    def apology_and_alerts(self, life: Life, upto: datetime) -> None:
        """What the deadline scan writes for a dossier whose due-soon (overdue) moment came before `upto`
        while its clock ran: the due-soon (overdue) alerts and the apology draft; 75 % of the dossiers
        that will be late get the apology issued before the appointment passes."""
        d = life.d
        if d["clock_state"] != "running" or d["due_soon_at"] is None:
            return
        horizon = min(upto, self.now)
        o, rng = life.o, self.rng
        recipients = sorted(set(o.leaders[:2]) | ({d["assignee_id"]} if d["assignee_id"] else set()))
        if d["due_at"] < horizon and not getattr(life, "overdue_done", False) and getattr(life, "soon_done", False):
            life.overdue_done = True
            for r in recipients:
                life.b.alerts.append((d["id"], "overdue", d["due_at"], r, "Hồ sơ đã quá hạn trả kết quả.",
                                      d["due_at"], None))
        if d["due_soon_at"] > horizon or getattr(life, "soon_done", False):
            return
        life.soon_done = True
        soon = d["due_soon_at"]
        for r in recipients:
            life.b.alerts.append((d["id"], "due_soon", d["due_at"], r, "Hồ sơ sắp đến hạn trả kết quả.", soon, None))
        drafted = soon + timedelta(seconds=rng.uniform(1, 60))
        late = getattr(life, "planned_end", upto) > d["due_at"]
        issue_at = self.cal.add_working_minutes(max(soon, life.last_at), int(rng.uniform(10, 300)))
        if late and rng.random() < 0.75 and issue_at < min(d["due_at"], upto) and issue_at <= self.now:
            new_due = self.cal.add_working_minutes(d["due_at"], int(480 * rng.uniform(1, 5)))
            new_due = datetime.combine(new_due.astimezone(VN).date(), self.cal.periods[-1].end, tzinfo=VN)
            leader = o.leaders[0]
            reason = "Hồ sơ cần xác minh thêm với cơ quan liên quan"
            # Late: issued later than one working day before the appointment (app.sla.apology).
            is_late = issue_at > self.cal.subtract_working_minutes(d["due_at"], self.cal.minutes_per_day)
            life.b.apologies.append((d["id"], "issued", reason, d["due_at"], new_due, new_due, drafted, None,
                                     issue_at, leader, "Lãnh đạo", "Giám đốc", is_late, None, d["agency_id"]))

            def issued() -> None:
                d["new_due_at"] = new_due
                d["apology_count"] = 1
                life.raw_next_alert()
            life.ev(issue_at, "apology_issued", leader, "leader", d["status"], mutate=issued,
                    note=f"Xin lỗi và hẹn lại ngày trả kết quả. Lý do: {reason}",
                    data={"original_due_at": d["due_at"].isoformat(), "new_due_at": new_due.isoformat()})
        else:
            life.b.apologies.append((d["id"], "draft", None, d["due_at"], d["due_at"] + timedelta(days=3), None,
                                     drafted, None, None, None, None, None, False, None, d["agency_id"]))

    def finish(self, life: Life) -> None:
        d = life.d
        if d["clock_state"] == "running":
            self.apology_and_alerts(life, upto=self.now)
            ns = SimpleNamespace(**{k: d.get(k) for k in ("clock_state", "status", "step_due_at", "step_started_at",
                                                          "due_at", "due_soon_at", "new_due_at", "apology_count",
                                                          "limit_minutes", "check_due_at", "checked_at")})
            refresh_next_alert(ns, cal=self.cal, now=self.now, settings=self.settings)  # type: ignore[arg-type]
            d["next_alert_at"] = ns.next_alert_at
        if d["status"] not in ("submitted",) and d["updated_at"] < self.now - timedelta(days=1):
            d["portal_synced_at"] = d["updated_at"] + timedelta(seconds=30)
        # Search key and who may take the current step (migration 0018), as the service writes them.
        d["applicant_name_key"] = name_key(d["applicant_name"])
        step = life.p.workflow[d["current_step"]] if d["current_step"] is not None else None
        d["step_role"] = step["role"] if step else None
        d["step_agency_id"] = d["agency_id"] if step else None
        d["step_unit_id"] = parties.step_unit(step, d["agency_id"], d["agency_id"],
                                              d["assigned_division_id"]) if step else None
        life.b.dossiers.append(tuple(d[c] for c in DOSSIER_COLS))
        self.counts[d["status"]] += 1
        self.counts[f"channel:{d['channel']}"] += 1
        if d["outcome"]:
            self.counts[f"outcome:{d['outcome']}"] += 1


# --- the load -----------------------------------------------------------------------------------

def _schema_of(conn) -> tuple[list[str], list[tuple[str, str, str]], list[tuple[str, str]]]:  # noqa: ANN001
    """(CREATE INDEX statements, (table, name, definition) of unique/foreign-key constraints, drops)."""
    tables = ", ".join(f"'{t}'" for t in BULK_TABLES)
    constraints = conn.execute(text(
        f"SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype FROM pg_constraint c "
        f"WHERE c.conrelid::regclass::text IN ({tables}) AND c.contype IN ('u', 'f') ORDER BY c.contype"
    )).all()
    indexes = conn.execute(text(
        f"SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        f"WHERE i.indrelid::regclass::text IN ({tables}) AND NOT i.indisprimary "
        f"AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)")).all()
    return [r[1] for r in indexes], [(r[0], r[1], r[2], r[3]) for r in constraints], [r[0] for r in indexes]


def load(url: str, settings: Settings, *, dossiers: int, years: float, seed: int, open_only: bool,
         chunk: int = 50_000) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    engine = make_engine(settings)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    upgrade(engine)
    factory = make_sessionmaker(engine)
    offices = setup_province(factory, settings, now)
    timings["migrate_and_catalogue_s"] = time.perf_counter() - t
    gen = Generator(settings, offices, now=now, years=years, seed=seed, open_only=open_only)
    t = time.perf_counter()
    plans = gen.plans(dossiers)
    timings["plans_s"] = time.perf_counter() - t

    with engine.begin() as conn:
        create_indexes, constraints, drop_indexes = _schema_of(conn)
        for table, name, _, kind in constraints:  # foreign keys ('f') first
            conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        for name in drop_indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    raw = engine.raw_connection()
    t = time.perf_counter()
    gen_s = copy_s = 0.0
    made = 0
    try:
        while made < dossiers:
            batch = Batch()
            g0 = time.perf_counter()
            for k in range(made, min(dossiers, made + chunk)):
                gen.dossier(batch, k + 1, plans[k])
            made = min(dossiers, made + chunk)
            c0 = time.perf_counter()
            gen_s += c0 - g0
            cur = raw.cursor()
            for table, cols, rows in batch.tables():
                if not rows:
                    continue
                with cur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as cp:
                    for row in rows:
                        cp.write_row(tuple(row))
            raw.commit()
            copy_s += time.perf_counter() - c0
            elapsed = time.perf_counter() - t
            print(f"  {made:>9,} dossiers  {elapsed:7.1f} s  ({made / elapsed:,.0f}/s; python {gen_s:.0f} s, "
                  f"COPY {copy_s:.0f} s)", flush=True)
        cur = raw.cursor()
        with cur.copy("COPY dossier_sequences (agency_id, day, last_value) FROM STDIN") as cp:
            for (agency_id, day), value in gen.sequences.items():
                cp.write_row((agency_id, day, value))
        raw.commit()
    finally:
        raw.close()
    timings["generate_python_s"] = gen_s
    timings["copy_s"] = copy_s
    t = time.perf_counter()
    with engine.begin() as conn:
        for statement in create_indexes:
            conn.execute(text(statement))
        for table, name, definition, kind in reversed(constraints):  # unique first, then foreign keys
            conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
        for table in ("dossiers", "dossier_events", "step_records", "clock_pauses", "supplement_requests",
                      "shipments", "apologies", "alerts", "outbox"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))"))
    timings["indexes_constraints_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    timings["vacuum_analyze_s"] = time.perf_counter() - t
    with engine.connect() as conn:
        sizes = {table: conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one() for table in BULK_TABLES}
        db_size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
    engine.dispose()
    return {"now": now.isoformat(), "dossiers": dossiers, "timings": timings, "rows": sizes, "database_size": db_size,
            "shares": dict(sorted(gen.counts.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=2_000_000)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--db", default="motcua_bench")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--open-only", type=int, default=0, metavar="N",
                        help="generate N dossiers all open now (deadline-scan data) instead")
    parser.add_argument("--chunk", type=int, default=50_000)
    args = parser.parse_args()
    url = fresh_database(args.db)
    settings = bench_settings(url)
    count = args.open_only or args.dossiers
    print(f"generating {count:,} dossiers into {args.db} (load: {os.getloadavg()[0]:.2f}, nproc {os.cpu_count()})",
          flush=True)
    started = time.perf_counter()
    result = load(url, settings, dossiers=count, years=args.years, seed=args.seed, open_only=bool(args.open_only),
                  chunk=args.chunk)
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=2, default=str))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"generate_{args.db}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2, default=str)


if __name__ == "__main__":
    main()
