"""The steps of a dossier's workflow: who is assigned a step (checked against the step's rule),
opening a step (its deadline on its agency's calendar, its form-6 row) and closing it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app import effects, parties, reference
from app.auth.principal import Principal
from app.catalog.service import workflow_of
from app.effects import Context
from app.errors import Invalid, NotPermitted
from app.models import Dossier, Procedure, StepRecord, User
from app.sla import service as sla
from app.sla.calendar import WorkingCalendar
from app.statuses import ROLE_NAMES
from app.workflows import rules


def assignee(session: Session, username: str | None, step: dict[str, Any], dossier: Dossier,
             principal: Principal, agency_id: int | None = None) -> User | None:
    if not username:
        return None
    role = step["role"]
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        raise Invalid(f"Không có cán bộ {username}.", code="assignee_not_found")
    agency = reference.agency(session, user.agency_id)
    from app.auth.principal import scope_agency_of

    if agency is None or scope_agency_of(agency) != principal.scope_agency_id or role not in user.roles:
        raise Invalid(f"Cán bộ {username} không thuộc cơ quan hoặc không có vai trò "
                      f"{ROLE_NAMES.get(role, role)}.", code="assignee_not_eligible")
    if (why := rules.step_refusal(step, user, user.roles, dossier, agency_id)) is not None:
        raise NotPermitted(f"Không giao được cho {user.full_name}: {why}", code="step_not_allowed")
    return user


def open_step(session: Session, dossier: Dossier, procedure: Procedure, index: int, cal: WorkingCalendar,
              ctx: Context, assignee: User | None) -> None:
    step = workflow_of(procedure)[index]
    dossier.current_step = index
    parties.hold_step(session, dossier, procedure)  # who may take it: the work lists
    dossier.assignee_id = assignee.id if assignee else None
    dossier.step_started_at = ctx.now
    cal, own = step_calendar(session, dossier, procedure, index, cal, ctx)  # each agency on its own calendar
    dossier.step_due_at = cal.add_working_minutes(ctx.now, int(step["budget_hours"]) * 60)
    # Written with the change's event and outbox rows, in one round trip (app/effects.py).
    effects.step(session, dossier_id=dossier.id, step_index=index, step_name=step["name"],
                 from_user_id=ctx.principal.id if ctx.principal else None, to_user_id=dossier.assignee_id,
                 to_division_id=dossier.assigned_division_id if step.get("scope") == "division" and own else None,
                 started_at=ctx.now, due_at=dossier.step_due_at, finished_at=None, result=None, is_late=None,
                 note=None)
    sla.refresh_next_alert(dossier)


def step_calendar(session: Session, dossier: Dossier, procedure: Procedure, index: int, cal: WorkingCalendar,
                  ctx: Context) -> tuple[WorkingCalendar, bool]:
    """The calendar a step runs on (its agency's) and whether that agency is the competent one."""
    if not parties.is_interagency(procedure):
        return cal, True
    agency_id = parties.step_agency_id(session, dossier, procedure, index)
    if agency_id == dossier.agency_id:
        return cal, True
    return sla.calendar_for(session, agency_id, ctx.settings), False


def open_step_record(session: Session, dossier: Dossier) -> StepRecord | None:
    return session.exec(select(StepRecord).where(StepRecord.dossier_id == dossier.id,
                                                 StepRecord.finished_at.is_(None))  # type: ignore[union-attr]
                        .order_by(StepRecord.id.desc())).first()  # type: ignore[union-attr]


def close_step(session: Session, dossier: Dossier, ctx: Context, result: str, note: str | None) -> None:
    record = open_step_record(session, dossier)
    if record is not None:
        record.finished_at = ctx.now
        record.result = result
        record.is_late = record.due_at is not None and ctx.now > record.due_at
        record.note = note
        session.add(record)


def clear_step(dossier: Dossier) -> None:
    dossier.current_step = None
    dossier.step_role = dossier.step_agency_id = dossier.step_unit_id = None
    dossier.assignee_id = None
    dossier.step_started_at = None
    dossier.step_due_at = None
