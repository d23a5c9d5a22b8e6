"""A simulated national-portal outage, measured: drift after recovery and how long recovery took.

    .venv/bin/python bench/portal_outage.py [--db sqlite|postgresql] [--dossiers 60] [--hours 6]

The scenario is tests/portal/outage.py (the one test_outage.py asserts): a frozen clock, the
in-process mock portal answering 503 for `--hours`, restarting half-way (losing every dossier it
held), the dispatcher and the backlog check ticking every 2 simulated minutes; then the portal
comes back, the queue drains, and the reconciliation runs twice. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--dossiers", type=int, default=60)
    parser.add_argument("--hours", type=int, default=6)
    args = parser.parse_args()

    from app.catalog.demo import seed_demo
    from app.clock import FrozenClock
    from app.db import make_engine, make_sessionmaker, transaction
    from app.migrations import upgrade
    from app.portal.client import PortalClient
    from tests.conftest import VN, drop_postgres_database, fresh_postgres_database, make_settings
    from tests.portal.conftest import mock_portal
    from tests.portal.outage import run_outage

    warnings.simplefilter("ignore")
    if args.db == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='motcua-outage-')}/motcua.db"
    else:
        url = fresh_postgres_database(f"motcua_bench_outage_{os.getpid()}")
    settings = make_settings(url)
    engine = make_engine(settings)
    try:
        upgrade(engine)
        clock = FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=VN))
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            seed_demo(session, settings=settings, now=clock.now())
        with mock_portal() as portal:
            client = PortalClient(base_url="http://testserver", username="motcua", password="motcua-demo", http=portal)
            r = run_outage(factory, settings, clock, portal, client, dossiers=args.dossiers, hours=args.hours)
        first, second = r.first_reconcile, r.second_reconcile
        assert first is not None and second is not None
        print(json.dumps({
            "database": args.db, "dossiers": r.dossiers, "outage_hours": args.hours, "actions": r.actions,
            "portal_messages_written": r.messages, "tries_during_outage": r.tries_during_outage,
            "dead": r.dead_during_outage + r.recovery_stats.dead, "max_attempts_per_message": r.max_attempts,
            "max_retry_gap_seconds": round(r.max_retry_gap_seconds), "backlog_alert_checks_that_alerted":
                sum(1 for n in r.backlog_alerts if n),
            "recovery_ticks": r.recovery_ticks, "recovery_simulated_minutes": r.recovery_minutes,
            "recovery_wall_seconds": round(r.recovery_seconds, 2), "recovery_sent": r.recovery_stats.sent,
            "drift_after_drain": {"checked": first.checked, "drifted": first.drifted, "kinds": sorted(
                {f for fields in first.drift.values() for f in fields})},
            "drift_after_reconcile": {"checked": second.checked, "drifted": second.drifted, "blocked": second.blocked},
            "mismatches_read_back": len(r.mismatches),
        }, indent=2))
    finally:
        engine.dispose()
        if args.db == "postgresql":
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
