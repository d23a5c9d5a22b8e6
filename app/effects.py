"""The effects of a change to a dossier, in one place: the immutable event, the outbox rows
(portal sync, applicant notification) written in the caller's transaction.

Both `app.workflows` (actions, intake) and `app.sla` (apologies, calendar changes, the scan) call
these; this module imports neither package, so neither depends on the other through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from app import parties, reference
from app.auth.principal import Principal
from app.channels import messages
from app.feedback import links as feedback_links
from app.models import Agency, Dossier, DossierEvent, OutboxMessage, Procedure, StepRecord
from app.portal.mapping import dossier_snapshot, history_row
from app.settings import Settings


@dataclass
class Context:
    """What every service call needs besides the session: who, when, with which settings.
    `principal` is None for the system itself (portal pull, scheduler, calendar change)."""

    principal: Principal | None
    now: datetime
    settings: Settings


def acting_role(principal: Principal) -> str | None:
    return sorted(principal.roles)[0] if principal.roles else None


def append_event(session: Session, dossier: Dossier, ctx: Context, *, action: str, from_status: str | None,
                 from_step: int | None, note: str | None = None, data: dict[str, Any] | None = None) -> DossierEvent:
    """The immutable fact of this change; `seq` is the dossier's version after it."""
    event = _event(dossier, ctx, action=action, from_status=from_status, from_step=from_step, note=note, data=data)
    session.add(event)
    session.flush()
    return event


_EVENT_COLUMNS = ("dossier_id", "seq", "at", "actor_id", "actor_role", "action", "from_status", "to_status",
                  "from_step", "to_step", "note", "data")


def _event(dossier: Dossier, ctx: Context, *, action: str, from_status: str | None, from_step: int | None,
           note: str | None, data: dict[str, Any] | None) -> DossierEvent:
    return DossierEvent(dossier_id=dossier.id, seq=dossier.version, at=ctx.now,
                        actor_id=ctx.principal.id if ctx.principal else None,
                        actor_role=acting_role(ctx.principal) if ctx.principal else None, action=action,
                        from_status=from_status, to_status=dossier.status, from_step=from_step,
                        to_step=dossier.current_step, note=note, data=data or {})


def outbox(session: Session, dossier: Dossier | None, *, topic: str, kind: str, payload: dict[str, Any],
           now: datetime) -> None:
    """Queue an outbox row; `write_pending` inserts the queued rows together (at the latest before commit)."""
    _pending(session)["outbox"].append({
        "topic": topic, "kind": kind, "dossier_id": dossier.id if dossier else None, "payload": payload,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})


def step(session: Session, **values: Any) -> None:
    """Queue a step record (form 6 row) of the change being made, written with its event."""
    _pending(session)["steps"].append(values)


def _pending(session: Session) -> dict[str, list[dict[str, Any]]]:
    return session.info.setdefault("effects_pending", {"steps": [], "events": [], "outbox": []})


def write_pending(session: Session) -> None:
    """Insert the queued step, event and outbox rows as Core inserts: on PostgreSQL in ONE statement
    (data-modifying CTEs: one round trip however many rows), on SQLite one insert per table (no
    network there). Also run before every commit (`install`), so nothing queued is ever lost."""
    pending = session.info.pop("effects_pending", None)
    if not pending or not any(pending.values()):
        return
    tables = [(StepRecord.__table__, pending["steps"]), (DossierEvent.__table__, pending["events"]),  # type: ignore[attr-defined]
              (OutboxMessage.__table__, pending["outbox"])]  # type: ignore[attr-defined]
    inserts = [insert(table).values(rows) for table, rows in tables if rows]
    if session.get_bind().dialect.name != "postgresql" or len(inserts) == 1:
        for statement in inserts:
            session.execute(statement)
        return
    *first, last = inserts
    session.execute(last.add_cte(*(statement.cte(f"effects_{i}") for i, statement in enumerate(first))))


def install(factory: Any) -> None:
    """Queued rows of a session are written before it commits, whoever forgot to."""
    from sqlalchemy import event as sa_event

    @sa_event.listens_for(factory, "before_commit")
    def _flush_effects(session: Session) -> None:
        write_pending(session)

    @sa_event.listens_for(factory, "after_rollback")
    def _forget_effects(session: Session) -> None:
        session.info.pop("effects_pending", None)


def sync_portal(session: Session, dossier: Dossier, procedure: Procedure, event: DossierEvent, ctx: Context,
                *, full: bool, is_new: bool = False) -> None:
    """Snapshot what the portal must learn from this event (full dossier, or progress only)."""
    division = reference.agency(session, dossier.assigned_division_id) if dossier.assigned_division_id else None
    actor = ctx.principal
    division_name = division.name if division else (actor.agency.name if actor else None)
    handler: Agency | None = None
    if parties.is_interagency(procedure):
        # Inter-agency: the history names each agency's steps; DonViXuLy is the agency holding it now.
        if actor is not None and actor.scope_agency_id != dossier.agency_id:
            division_name = actor.agency.name
        handler = reference.agency(session, parties.step_agency_id(session, dossier, procedure, dossier.current_step))
    row = history_row(dossier, event, actor_name=actor.user.full_name if actor else None,
                      actor_title=actor.user.title if actor else None, division_name=division_name)
    if full:
        agency = handler or reference.agency(session, dossier.agency_id)
        assert agency is not None
        item = dossier_snapshot(session, dossier, procedure, agency) | {"QuaTrinhXuLy": [row]}
        outbox(session, dossier, topic="portal", kind="sync_new" if is_new else "sync_update",
               payload={"isUpdating": not is_new, "data": [item]}, now=ctx.now)
    else:
        progress = {"MaHoSo": dossier.code, "TrangThaiHoSo": row["TrangThai"], "QuaTrinhXuLy": [row]}
        if handler is not None:
            progress["DonViXuLy"] = handler.code
        outbox(session, dossier, topic="portal", kind="progress", payload={"data": [progress]}, now=ctx.now)


def notify(session: Session, dossier: Dossier, procedure: Procedure, kind: str, ctx: Context,
           extra: str | None = None) -> None:
    """A message to the applicant (SMS and/or e-mail), when they left a way to reach them."""
    if not (dossier.applicant_phone or dossier.applicant_email):
        return
    if kind == "returned" and extra is None:  # the result is in hand: ask how the service was (signed link)
        extra = feedback_links.rating_url(dossier.id, now=ctx.now, settings=ctx.settings)  # type: ignore[arg-type]
    agency = session.get(Agency, dossier.receiving_agency_id or dossier.agency_id)  # where the applicant came
    name = agency.name if agency is not None else ""
    subject, text = messages.render(kind, dossier, procedure, extra=extra, agency_name=name or None)
    sms = messages.sms_text(kind, dossier, agency_name=name, agency_short_name=agency.short_name if agency else None,
                            extra=extra)
    outbox(session, dossier, topic="notify", kind=kind, now=ctx.now,
           payload={"to_email": dossier.applicant_email, "to_phone": dossier.applicant_phone,
                    "subject": subject, "text": text, "sms": sms})


def record(session: Session, dossier: Dossier, procedure: Procedure, ctx: Context, *, action: str,
           from_status: str | None, from_step: int | None, note: str | None = None,
           data: dict[str, Any] | None = None, full_sync: bool, is_new: bool = False,
           notification: tuple[str, str | None] | None = None) -> DossierEvent:
    """Every effect of one change, in order: the event, the portal sync, the applicant's message;
    written with the step records the change queued (`step`) in one round trip (`write_pending`)."""
    session.flush()  # the dossier's own row first (its id, its version)
    event = _event(dossier, ctx, action=action, from_status=from_status, from_step=from_step, note=note, data=data)
    _pending(session)["events"].append({c: getattr(event, c) for c in _EVENT_COLUMNS})
    sync_portal(session, dossier, procedure, event, ctx, full=full_sync, is_new=is_new)
    if notification is not None:
        notify(session, dossier, procedure, notification[0], ctx, extra=notification[1])
    write_pending(session)
    return event
