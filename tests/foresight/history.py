"""A generated history in the test database: the rows `bench/generate.py` builds (dossiers, events,
form-6 step records, pauses, supplement requests, apologies), for the demo Department, inserted
through SQLAlchemy so that both databases get them. Alerts and outbox rows are left out."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from app.settings import Settings
from bench.foresight_history import demo_office
import bench.generate
from bench.generate import Batch, Generator

SKIPPED = {"alerts", "outbox"}
# The generator hashes a pool of lookup secrets (~1 ms each); a test history needs only a few.
bench.generate.SECRET_POOL = 8


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


class OverrunGenerator(Generator):
    """Step 1 of every procedure takes six times its budget, the others a third of theirs: a history
    where one step usually overruns (its forecasts are at risk, its cause is that step)."""

    def step_minutes(self, life, i: int, total: int, shares: list[float]) -> int:  # noqa: ANN001
        budget = int(life.p.workflow[i]["budget_hours"]) * 60
        return max(1, budget * 6 if i == 1 else budget // 3)
