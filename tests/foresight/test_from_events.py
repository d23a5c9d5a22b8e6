"""The periodic report recomputed from the event log alone equals the stored one (issue 17)."""

from __future__ import annotations

from datetime import date

from app.auth.service import agency_by_code
from app.db import make_sessionmaker
from app.foresight import fromevents
from app.reports.periods import parse_period
from tests.foresight.history import generate


def test_report_from_events_equals_the_stored_report(engine, settings, demo, clock):
    generate(engine, settings, now=clock.now(), dossiers=500, seed=11)
    with make_sessionmaker(engine)() as s:
        agency_id = agency_by_code(s, demo["agency_code"]).id
        periods = [parse_period(p, settings.timezone) for p in ("2026", "2026-Q1", "2026-Q3")]
        periods += [parse_period(f"2026-{m:02d}", settings.timezone) for m in range(1, 12)]
        periods.append(parse_period(None, settings.timezone, from_=date(2025, 12, 1), to=date(2026, 11, 30)))
        overdue_at_some_end = 0
        for period in periods:
            differences = fromevents.compare(s, agency_id=agency_id, period=period, now=clock.now(),
                                             settings=settings)
            assert differences == [], (period.key, differences[:10])
            figures = fromevents.report_from_events(s, agency_id=agency_id, period=period, now=clock.now(),
                                                    settings=settings)
            totals = {name: sum(c[name] for c in figures.values()) for name in ("received_total", "resolved_late",
                                                                                 "in_progress_overdue")}
            if period.key == "2026":  # the comparison is not vacuous
                assert totals["received_total"] > 100 and totals["resolved_late"] > 0
            overdue_at_some_end += totals["in_progress_overdue"]
        assert overdue_at_some_end > 0  # recomputed appointments of open dossiers were compared too


def test_cli_report_from_events_prints_differences(monkeypatch, engine, settings, demo, clock):
    from sqlalchemy import select, update
    from typer.testing import CliRunner

    from app.cli import app
    from app.models import Dossier
    from app.settings import get_settings

    generate(engine, settings, now=clock.now(), dossiers=150, seed=23)
    monkeypatch.setenv("MOTCUA_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        same = runner.invoke(app, ["report", "--agency", demo["agency_code"], "--period", "2026-Q3", "--from-events"])
        assert same.exit_code == 0, same.output
        assert "trùng khớp" in same.output
        with engine.begin() as conn:  # a stored figure the events do not support
            row = conn.execute(select(Dossier.id).where(Dossier.outcome == "early",
                                                        Dossier.resolved_at >= parse_period(
                                                            "2026-Q3", settings.timezone).start)).first()
            conn.execute(update(Dossier).where(Dossier.id == row.id).values(outcome="late"))
        changed = runner.invoke(app, ["report", "--agency", demo["agency_code"], "--period", "2026-Q3",
                                      "--from-events"])
        assert changed.exit_code == 1, changed.output
        assert "resolved_early" in changed.output and "resolved_late" in changed.output
    finally:
        get_settings.cache_clear()
