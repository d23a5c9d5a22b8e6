"""Generated histories for the foresight benchmarks and tests (docs/FORESIGHT.md).

`demo_office`: the demo Department as a `bench.generate.Office` (its desk, specialists, leaders and
single-agency procedures) with a skewed catalogue (the first procedure is the busy one).
`load_demo`: `bench.generate.Generator`'s rows for that one office, bulk-loaded with COPY
(PostgreSQL) into a migrated database with the demo seed.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from app.auth.principal import scope_agency_of  # noqa: E402
from app.catalog.demo import DEMO_AGENCY_CODE, seed_demo  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.models import Agency, Procedure, User  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.generate import Batch, Generator, Office  # noqa: E402


def demo_office(engine: Engine, *, skew: float = 1.2) -> Office:
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
    office.weights = [1.0 / (k + 1) ** skew * rng.uniform(0.9, 1.1) for k in range(len(office.procedures))]
    return office


def load_demo(url: str, settings: Settings, *, now: datetime, dossiers: int, years: float, seed: int,
              generator: type[Generator] = Generator, chunk: int = 20_000) -> dict[str, Any]:
    """A fresh PostgreSQL database `url`: migrated, demo seed, `dossiers` generated for the Department."""
    engine = make_engine(settings)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as s:
        seed_demo(s, settings=settings, now=now)
    office = demo_office(engine)
    gen = generator(settings, [office], now=now, years=years, seed=seed)
    plans = gen.plans(dossiers)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        for first in range(0, dossiers, chunk):
            batch = Batch()
            for k in range(first, min(dossiers, first + chunk)):
                gen.dossier(batch, k + 1, plans[k])
            cur = raw.cursor()
            for table, cols, rows in batch.tables():
                if rows:
                    with cur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as cp:
                        for row in rows:
                            cp.write_row(tuple(row))
            raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        for table in ("dossiers", "dossier_events", "step_records", "clock_pauses", "supplement_requests",
                      "shipments", "apologies", "alerts", "outbox"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return {"dossiers": dossiers, "load_s": round(time.perf_counter() - started, 1), "counts": dict(gen.counts)}
