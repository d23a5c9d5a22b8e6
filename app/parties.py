"""Inter-agency (liên thông) procedures: which agency holds each step of a dossier, who may see it
since when, and whose share of the limit ran over. Imported by `app.workflows`, `app.sla` and
`app.access`; imports none of them.

A procedure's `parties` name the agencies by their role in it (codes, Decision 20/2020/QĐ-TTg):
`receiving_points` (where it may be received: the provincial centre, the department's own desk,
communes), `deciding_authority` (e.g. the Provincial People's Committee), `result_via`
(`receiving_point`, the default, or `competent`). A workflow step names its agency by role
(`agency`: `competent` (default), `deciding`, `receiving`); a procedure without parties is a
single-agency one and behaves exactly as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from app.models import Agency, ClockPause, Dossier, DossierAgency, Handover, OpinionRequest, Procedure


class AgencyKind:
    centre = "centre"
    department = "department"
    people_committee = "people_committee"
    commune = "commune"


AGENCY_KINDS = (AgencyKind.centre, AgencyKind.department, AgencyKind.people_committee, AgencyKind.commune)
STEP_AGENCY_ROLES = ("competent", "deciding", "receiving")


def is_interagency(procedure: Procedure) -> bool:
    return bool(procedure.parties) or any(step.get("agency", "competent") != "competent"
                                          for step in procedure.workflow)


def party_codes(procedure: Procedure) -> set[str]:
    """The codes of the agencies a procedure names besides its competent one."""
    named = procedure.parties or {}
    return set(named.get("receiving_points") or []) | ({named["deciding_authority"]}
                                                       if named.get("deciding_authority") else set())


def agency_by_code(session: Session, code: str | None) -> Agency | None:
    if not code:
        return None
    return session.exec(select(Agency).where(Agency.code == code)).first()


def receiving_point_ids(session: Session, procedure: Procedure) -> set[int]:
    codes = (procedure.parties or {}).get("receiving_points") or []
    if not codes:
        return set()
    return {a.id for a in session.exec(select(Agency).where(Agency.code.in_(codes))).all()  # type: ignore[union-attr]
            if a.id is not None}


def role_agency_id(session: Session, dossier: Dossier, procedure: Procedure, role: str) -> int:
    """The agency that plays `role` in this dossier."""
    if role == "receiving":
        return dossier.receiving_agency_id
    if role == "deciding":
        agency = agency_by_code(session, (procedure.parties or {}).get("deciding_authority"))
        if agency is not None and agency.id is not None:
            return agency.id
    return dossier.agency_id


def step_agency_id(session: Session, dossier: Dossier, procedure: Procedure, index: int | None) -> int:
    """The agency that holds step `index` (before the first step: the receiving point)."""
    steps = procedure.workflow
    if index is None or not 0 <= index < len(steps):
        return dossier.receiving_agency_id if dossier.current_step is None else dossier.agency_id
    return role_agency_id(session, dossier, procedure, steps[index].get("agency", "competent"))


def result_agency_id(dossier: Dossier, procedure: Procedure) -> int:
    """Where the result returns to the applicant (at its desk, or handed by its desk to the post):
    the receiving point, unless the procedure says the competent agency (`result_via`)."""
    if (procedure.parties or {}).get("result_via") == "competent":
        return dossier.agency_id
    return dossier.receiving_agency_id


def appointment_agency_id(session: Session, dossier: Dossier, procedure: Procedure) -> int:
    """The agency on whose calendar the appointment falls: the one holding the last step (the
    receiving point returning the result, on an inter-agency procedure), else the competent one."""
    if not is_interagency(procedure) or not procedure.workflow:
        return dossier.agency_id
    return step_agency_id(session, dossier, procedure, len(procedure.workflow) - 1)


def step_unit(step: dict[str, Any], step_agency: int, competent_agency: int, division_id: int | None) -> int | None:
    """The unit whose members alone may take `step` (as `app.workflows.rules.step_refusal` rules):
    the dossier's division for a division step of the competent agency, the agency itself for a
    step of its own leaders (Giám đốc / Phó Giám đốc); None: anyone of the agency with the role."""
    if step.get("scope") == "division" and division_id is not None and step_agency == competent_agency:
        return division_id
    if step.get("scope") == "agency" and step["role"] == "leader":
        return step_agency
    return None


def hold_step(session: Session, dossier: Dossier, procedure: Procedure) -> None:
    """Record who may take the dossier's current step (the work lists read these columns)."""
    index, steps = dossier.current_step, procedure.workflow
    if index is None or not 0 <= index < len(steps):
        dossier.step_role = dossier.step_agency_id = dossier.step_unit_id = None
        return
    agency_id = step_agency_id(session, dossier, procedure, index)
    dossier.step_role = steps[index]["role"]
    dossier.step_agency_id = agency_id
    dossier.step_unit_id = step_unit(steps[index], agency_id, dossier.agency_id, dossier.assigned_division_id)


def budget_minutes(session: Session, dossier: Dossier, procedure: Procedure, agency_id: int) -> int:
    return sum(int(step["budget_hours"]) * 60 for i, step in enumerate(procedure.workflow)
               if step_agency_id(session, dossier, procedure, i) == agency_id)


def parts(session: Session, dossier: Dossier) -> list[DossierAgency]:
    return list(session.exec(select(DossierAgency).where(DossierAgency.dossier_id == dossier.id)
                             .order_by(DossierAgency.id)).all())


def part_of(session: Session, dossier: Dossier, agency_id: int) -> DossierAgency | None:
    return session.exec(select(DossierAgency).where(DossierAgency.dossier_id == dossier.id,
                                                    DossierAgency.agency_id == agency_id)).first()


def join(session: Session, dossier: Dossier, procedure: Procedure, agency_id: int, now: datetime) -> DossierAgency:
    """The agency takes part from now on (it sees the dossier from this moment)."""
    row = part_of(session, dossier, agency_id)
    if row is None:
        row = DossierAgency(dossier_id=dossier.id, agency_id=agency_id, since=now,
                            budget_minutes=budget_minutes(session, dossier, procedure, agency_id))
        session.add(row)
        session.flush()
    return row


def start_part(session: Session, dossier: Dossier, procedure: Procedure, agency_id: int, now: datetime) -> None:
    row = join(session, dossier, procedure, agency_id, now)
    if row.part_started_at is None:
        row.part_started_at = now
        session.add(row)


def end_part(session: Session, dossier: Dossier, agency_id: int, now: datetime, cal: Any) -> DossierAgency | None:
    """The agency's part ends: its working time (on its own calendar, waits for the applicant
    excluded) is added to what it spent; past its budget, it overran."""
    row = part_of(session, dossier, agency_id)
    if row is None or row.part_started_at is None:
        return row
    spent = cal.working_minutes_between(row.part_started_at, now)
    for pause in session.exec(select(ClockPause).where(ClockPause.dossier_id == dossier.id)).all():
        start, end = max(pause.started_at, row.part_started_at), min(pause.ended_at or now, now)
        if end > start:
            spent -= cal.working_minutes_between(start, end)
    row.spent_minutes += max(0, spent)
    row.part_started_at = None
    row.overran = row.spent_minutes > row.budget_minutes
    session.add(row)
    return row


def settle_lateness(session: Session, dossier: Dossier) -> int | None:
    """On a late dossier, the agency that overran its share the most caused it; returns its id."""
    if dossier.outcome != "late" and dossier.late_since is None:
        return None
    rows = parts(session, dossier)
    over = [r for r in rows if r.overran]
    if not over:
        return None
    culprit = max(over, key=lambda r: r.spent_minutes - r.budget_minutes)
    for row in rows:
        row.caused_late = row is culprit
        session.add(row)
    return culprit.agency_id


def fault_agency_id(session: Session, dossier: Dossier) -> int:
    """The agency that apologises (form 04): the one recorded as having made the dossier late, else
    the agency holding it now if its share has run over, else the competent agency (as before)."""
    rows = parts(session, dossier)
    for row in rows:
        if row.caused_late:
            return row.agency_id
    if not rows:
        return dossier.agency_id
    procedure = session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    holder = step_agency_id(session, dossier, procedure, dossier.current_step)
    for row in rows:
        if row.overran:
            return row.agency_id
    return holder


def pending_handover(session: Session, dossier: Dossier) -> Handover | None:
    return session.exec(select(Handover).where(Handover.dossier_id == dossier.id, Handover.status == "pending")
                        .order_by(Handover.id.desc())).first()  # type: ignore[union-attr]


def opinions(session: Session, dossier: Dossier) -> list[OpinionRequest]:
    return list(session.exec(select(OpinionRequest).where(OpinionRequest.dossier_id == dossier.id)
                             .order_by(OpinionRequest.id)).all())


def expire_opinions(session: Session, dossier: Dossier, now: datetime) -> list[OpinionRequest]:
    """Opinions whose deadline passed unanswered: "no answer" is recorded, at the deadline."""
    expired = []
    for row in opinions(session, dossier):
        if row.status == "pending" and row.due_at <= now:
            row.status, row.answered_at = "no_answer", row.due_at
            session.add(row)
            expired.append(row)
    return expired


def opinions_pending(session: Session, dossier: Dossier, now: datetime) -> list[OpinionRequest]:
    expire_opinions(session, dossier, now)
    return [row for row in opinions(session, dossier) if row.status == "pending"]
