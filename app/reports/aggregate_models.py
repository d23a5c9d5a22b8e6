"""The monthly report aggregates (migration 0022). Registered with the other tables by app/models.py.

One row per (month, agency, procedure): the periodic report's figures of that closed month for that
agency (its own dossiers plus the inter-agency ones it takes part in), exactly as
`app.reports.queries.period_facts` counts them for the month. `report_aggregate_months` lists the
months built and when; app/reports/aggregates.py builds and reads both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class ReportMonthAggregate(SQLModel, table=True):
    __tablename__ = "report_month_aggregates"

    month: date = Field(primary_key=True)  # first day of the month, local calendar
    agency_id: int = Field(primary_key=True)
    procedure_id: int = Field(primary_key=True)
    carried_over: int = 0
    new_online: int = 0
    new_direct: int = 0
    new_postal: int = 0
    received_total: int = 0
    resolved_total: int = 0
    resolved_early: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    in_progress_total: int = 0
    in_progress_within: int = 0
    in_progress_overdue: int = 0
    awaiting_supplement: int = 0
    withdrawn_or_refused: int = 0
    returned_by_post: int = 0
    apologies: int = 0
    not_received_total: int = 0
    refused_at_reception: int = 0
    online_not_accepted: int = 0
    withdrawn_before_receipt: int = 0
    apologies_late: int = 0
    online_checked_late: int = 0
    online_unchecked_overdue: int = 0
    late_caused_here: int = 0
    late_caused_elsewhere: int = 0


class ReportAggregateMonth(SQLModel, table=True):
    """A month whose rows in report_month_aggregates are built (absent: not built, read directly)."""

    __tablename__ = "report_aggregate_months"

    month: date = Field(primary_key=True)
    built_at: datetime = _ts()
