"""A generated history in the test database: the rows `bench/generate.py` builds (dossiers, events,
form-6 step records, pauses, supplement requests, apologies), for the demo Department, inserted
through SQLAlchemy so that both databases get them. Alerts and outbox rows are left out."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from app.auth.principal import scope_agency_of
from app.catalog.demo import DEMO_AGENCY_CODE
from app.db import make_sessionmaker, transaction
from app.models import Agency, Procedure, User
from app.settings import Settings
from bench.generate import Batch, Generator, Office

SKIPPED = {"alerts", "outbox"}


def demo_office(engine: Engine) -> Office:
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        agency = s.execute(select(Agency).where(Agency.code == DEMO_AGENCY_CODE)).scalars().one()
        agencies = {a.id: a for a in s.execute(select(Agency)).scalars()}
        mine = [u for u in s.execute(select(User)).scalars() if scope_agency_of(agencies[u.agency_id]) == agency.id]
        office = Office(agency_id=agency.id, code=agency.code, desk=[u.id for u in mine if "desk" in u.roles],
                        specialists=[u.id for u in mine if "specialist" in u.roles],
                        leaders=[u.id for u in mine if "leader" in u.roles],
                        postal=[u.id for u in mine if "postal" in u.roles])
        office.procedures = [p for p in s.execute(select(Procedure).where(Procedure.agency_id == agency.id)
                                                  .order_by(Procedure.id)).scalars() if not p.parties]
        for p in office.procedures:
            s.expunge(p)
    rng = random.Random(agency.id)
    # A skewed catalogue: the first procedure is the busy one.
    office.weights = [1.0 / (k + 1) ** 1.2 * rng.uniform(0.9, 1.1) for k in range(len(office.procedures))]
    return office


def _json_columns(table: str) -> set[str]:
    t = SQLModel.metadata.tables[table]
    return {c.name for c in t.columns if c.type.__class__.__name__ in ("JSON", "SealedJSON")}


def generate(engine: Engine, settings: Settings, *, now: datetime, dossiers: int, years: float = 1.0,
             seed: int = 17, first_id: int = 1, generator: type[Generator] = Generator) -> Generator:
    """Generate `dossiers` dossiers of the demo Department over `years` years before `now`."""
    office = demo_office(engine)
    gen = generator(settings, [office], now=now, years=years, seed=seed)
    batch = Batch()
    for k, plan in enumerate(gen.plans(dossiers)):
        gen.dossier(batch, first_id + k, plan)
    with engine.begin() as conn:
        for table, cols, rows in batch.tables():
            if table in SKIPPED or not rows:
                continue
            json_cols = _json_columns(table)
            values: list[dict[str, Any]] = []
            for row in rows:
                item = dict(zip(cols, row))
                for name in json_cols:
                    if isinstance(item.get(name), str):
                        item[name] = json.loads(item[name])
                values.append(item)
            conn.execute(insert(SQLModel.metadata.tables[table]), values)
        if engine.dialect.name == "postgresql":
            for table in ("dossiers", "dossier_events", "step_records", "clock_pauses", "supplement_requests",
                          "apologies", "shipments"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))"))
    return gen
