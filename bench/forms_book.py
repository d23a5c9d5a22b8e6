"""Tracking book (Mẫu số 07) on PostgreSQL: query plan and time to build + render one month.

    .venv/bin/python bench/forms_book.py [--dossiers 200000] [--url postgresql://postgres@127.0.0.1:5432/postgres]

Creates (and drops) a scratch database `motcua_bench_forms`, migrates it, seeds the demo
Department plus a second agency, and inserts synthetic dossiers spread evenly over two years,
half of them in the demo Department, each with one step record. Then it prints EXPLAIN ANALYZE of
the book query for one month and the median wall time of `tracking_book` + `render` over 5 runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlmodel import select

from app.auth.principal import Principal, scope_agency_of
from app.auth.service import create_agency
from app.catalog.demo import seed_demo
from app.db import make_engine, make_sessionmaker, transaction
from app.migrations import upgrade
from app.models import Agency, User
from app.settings import Settings
from app.web import forms
from app.web.render import render

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NAME = "motcua_bench_forms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=200_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    admin_url = "postgresql+psycopg://" + args.url.split("://", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{NAME}"'))
    url = args.url.rsplit("/", 1)[0] + f"/{NAME}"
    settings = Settings(env="test", database_url=url, jwt_secret="bench-secret-0123456789-0123456789-xx",
                        password_time_cost=1, password_memory_cost=1024, log_level="WARNING")
    engine = make_engine(settings)
    try:
        upgrade(engine)
        now = datetime(2026, 11, 23, 9, 0, tzinfo=VN)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            seed_demo(session, settings=settings, now=now)
            create_agency(session, code="000.00.18.H27", name="Sở khác", now=now)
        with engine.begin() as conn:
            started = time.perf_counter()
            # Two years of dossiers ending on `now`, alternating between the two agencies; every one received.
            conn.execute(text("""
                INSERT INTO dossiers (code, agency_id, receiving_agency_id, procedure_id, channel, online_level,
                    applicant_type, applicant_name, applicant_id_number, documents, return_method, status, version,
                    clock_state, limit_minutes, supplement_count, apology_count, lookup_secret_hash, is_imported,
                    created_at, updated_at, received_at, due_at, resolved_at, outcome)
                SELECT 'B-' || g, a.id, a.id, p.id, 'direct', 'none', 'individual', 'Người nộp ' || g, '001099' || g,
                       '[]', 'desk', 'resolved', 1, 'stopped', 2400, 0, 0, 'x', false, t, t, t,
                       t + interval '7 days', t + interval '5 days', 'early'
                FROM generate_series(1, :n) AS g
                CROSS JOIN LATERAL (SELECT timestamptz '2026-11-23 02:00+00' - (g * interval '2 years' / :n) AS t) ts
                JOIN agencies a ON a.code = CASE WHEN g % 2 = 0 THEN '000.00.17.H26' ELSE '000.00.18.H27' END
                JOIN LATERAL (SELECT id FROM procedures ORDER BY id LIMIT 1) p ON true
            """), {"n": args.dossiers})
            conn.execute(text("""
                INSERT INTO step_records (dossier_id, step_index, step_name, started_at)
                SELECT id, 0, 'Chuyên viên thẩm định', received_at + interval '1 hour' FROM dossiers
            """))
            conn.execute(text("ANALYZE"))
            print(f"inserted {args.dossiers} dossiers in {time.perf_counter() - started:.1f} s")
        with factory() as session:
            user = session.exec(select(User).where(User.username == "motcua")).one()
            agency = session.get(Agency, user.agency_id)
            principal = Principal(user=user, roles=frozenset(user.roles), scope_agency_id=scope_agency_of(agency),
                                  agency=agency)
            book_from, book_to = date(2026, 10, 1), date(2026, 10, 31)
            timings, size, rows = [], 0, 0
            for _ in range(5):
                started = time.perf_counter()
                book = forms.tracking_book(session, principal, date_from=book_from, date_to=book_to, now=now,
                                           settings=settings)
                page = render(book)
                timings.append(time.perf_counter() - started)
                size, rows = len(page.encode()), len(book.rows)
            print(f"book {book_from}..{book_to}: {rows} rows, {size / 1024:.0f} KiB HTML, "
                  f"median {statistics.median(timings) * 1000:.0f} ms (build + render, 5 runs)")
        _explain(engine, settings, book_from, book_to)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        admin.dispose()


def _explain(engine, settings: Settings, book_from: date, book_to: date) -> None:  # noqa: ANN001
    """EXPLAIN ANALYZE of exactly the statement `tracking_book` runs (compiled with its parameters)."""
    from sqlalchemy.dialects import postgresql

    captured: list = []
    factory = make_sessionmaker(engine)
    with factory() as session:
        user = session.exec(select(User).where(User.username == "motcua")).one()
        agency = session.get(Agency, user.agency_id)
        principal = Principal(user=user, roles=frozenset(user.roles), scope_agency_id=scope_agency_of(agency),
                              agency=agency)
        original = session.execute
        session.execute = lambda statement, *a, **k: (captured.append(statement), original(statement, *a, **k))[1]
        forms.tracking_book(session, principal, date_from=book_from, date_to=book_to,
                            now=datetime(2026, 11, 23, 9, 0, tzinfo=VN), settings=settings)
        compiled = captured[0].compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        plan = session.connection().exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}").all()
        print("\n".join(row[0] for row in plan))


if __name__ == "__main__":
    main()
