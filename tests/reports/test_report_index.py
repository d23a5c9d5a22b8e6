"""The report aggregates read only what `ix_dossiers_report` carries (migration 0006).

On PostgreSQL the pass behind the periodic report (flows and results returned) can run as an index-only scan of that
index: had a query of app/reports/queries.py started reading a column the index lacks, the plan
would fall back to the table (1.6 GB at two million dossiers instead of 248 MB). Sequential and
bitmap scans are disabled so the plan shows what the index alone can answer, whatever the
planner would pick on the small test table.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from app.reports import queries
from app.reports.periods import parse_period


def test_report_statements_are_answered_from_the_covering_index(engine, demo, db_kind) -> None:  # noqa: ANN001
    if db_kind == "sqlite":  # no INCLUDE in SQLite: the index exists on its key columns only
        index = next(i for i in inspect(engine).get_indexes("dossiers") if i["name"] == "ix_dossiers_report")
        assert index["column_names"] == ["agency_id", "procedure_id"]
        return
    period = parse_period("2026-Q4", "Asia/Ho_Chi_Minh")
    with Session(engine) as session:
        filters = queries.Filters(session, 1)
        flows, *_others = queries.fact_statements(
            filters, period, "procedure", now=datetime(2026, 11, 23, tzinfo=UTC), dialect="postgresql", extras=True)
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        sql = str(flows.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))
    scans = [line for line in plan.splitlines() if "on dossiers" in line]
    assert scans and all("Index Only Scan using ix_dossiers_report" in line for line in scans), plan


def test_the_online_check_counts_read_their_partial_index(engine, demo, db_kind) -> None:  # noqa: ANN001
    """Only online submissions carry `check_due_at`: the late-check counts can be answered from
    `ix_dossiers_online_check` alone. On the empty test table the planner prefers the covering
    index for its order, so that one is dropped inside the (rolled back) transaction first."""
    if db_kind == "sqlite":
        return  # the plan question is PostgreSQL's; SQLite's index exists by the same migration
    period = parse_period("2026-Q4", "Asia/Ho_Chi_Minh")
    with Session(engine) as session:
        *_, checks = queries.fact_statements(queries.Filters(session, 1), period, "procedure",
                                             now=datetime(2026, 11, 23, tzinfo=UTC), dialect="postgresql")
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("DROP INDEX ix_dossiers_report"))
        sql = str(checks.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))
        session.rollback()
    assert "ix_dossiers_online_check" in plan, plan
