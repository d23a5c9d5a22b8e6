"""The one transition table: every allowed move of a dossier, as data.

For each (status, action): the roles allowed, the next status, the effect on the deadline clock,
whether the caller must hold the current processing step, and (through the status) the national
portal code. The service, the API (`allowed_actions`), the docs page and the tests all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.models import DossierStatus as S
from app.models import Role
from app.statuses import (ACTION_LABELS, OTHER_EVENT_LABELS, PORTAL_STATUS, STATUS_LABELS,  # noqa: F401 (re-exported)
                          Action, event_label)


class ClockEffect(StrEnum):
    none = "none"
    start = "start"  # a complete dossier is received: the time limit starts
    pause = "pause"  # waiting for the applicant (supplement, payment)
    resume = "resume"  # due date moves by the paused working time
    resume_or_reset = "resume_or_reset"  # per procedure: `pause` resumes, `reset` counts the limit afresh
    stop = "stop"  # the dossier leaves processing


@dataclass(frozen=True)
class Transition:
    status: S
    action: Action
    roles: frozenset[Role]
    to_status: S | None  # None: back to the status held before the pause
    clock: ClockEffect
    step_bound: bool = False  # caller must hold the current step's role (and be its assignee, if any)


def _t(status: S, action: Action, roles: set[Role], to: S | None, clock: ClockEffect = ClockEffect.none,
       step_bound: bool = False) -> Transition:
    return Transition(status, action, frozenset(roles), to, clock, step_bound)


DESK, SPECIALIST, LEADER, POSTAL = Role.desk, Role.specialist, Role.leader, Role.postal
A, C = Action, ClockEffect

TRANSITIONS: tuple[Transition, ...] = (
    # Online (and postal) submissions waiting for the desk.
    _t(S.submitted, A.accept, {DESK}, S.received, C.start),
    _t(S.submitted, A.refuse, {DESK}, S.refused),
    _t(S.submitted, A.request_supplement, {DESK}, S.awaiting_supplement),
    _t(S.submitted, A.withdraw, {DESK}, S.withdrawn),
    # Received at the desk, complete, clock running.
    _t(S.received, A.forward, {DESK}, S.processing),
    # No reception refusal (form 03) after form 01: a refusal after appraisal is a result (resolve).
    _t(S.received, A.request_supplement, {DESK}, S.awaiting_supplement, C.pause),
    _t(S.received, A.withdraw, {DESK}, S.withdrawn, C.stop),
    # Processing through the procedure's steps.
    _t(S.processing, A.forward, {SPECIALIST, LEADER, DESK}, S.processing, step_bound=True),
    _t(S.processing, A.send_back, {SPECIALIST, LEADER, DESK}, S.processing, step_bound=True),
    _t(S.processing, A.request_supplement, {SPECIALIST, LEADER, DESK}, S.awaiting_supplement, C.pause,
       step_bound=True),
    _t(S.processing, A.request_payment, {SPECIALIST, LEADER, DESK}, S.awaiting_payment, C.pause, step_bound=True),
    _t(S.processing, A.resolve, {SPECIALIST, LEADER, DESK}, S.resolved, C.stop, step_bound=True),
    _t(S.processing, A.withdraw, {DESK}, S.withdrawn, C.stop),
    _t(S.processing, A.stop, {LEADER}, S.stopped, C.stop),
    # Waiting for the applicant.
    _t(S.awaiting_supplement, A.supplement_received, {DESK}, None, C.resume_or_reset),
    _t(S.awaiting_supplement, A.withdraw, {DESK}, S.withdrawn, C.stop),
    _t(S.awaiting_supplement, A.stop, {LEADER}, S.stopped, C.stop),
    _t(S.awaiting_payment, A.payment_confirmed, {DESK, SPECIALIST}, S.processing, C.resume),
    _t(S.awaiting_payment, A.withdraw, {DESK}, S.withdrawn, C.stop),
    _t(S.awaiting_payment, A.stop, {LEADER}, S.stopped, C.stop),
    # Result ready: the desk (or the post office) hands it over.
    _t(S.resolved, A.return_result, {DESK, POSTAL}, S.returned),
)

_BY_KEY = {(t.status, t.action): t for t in TRANSITIONS}
assert len(_BY_KEY) == len(TRANSITIONS), "duplicate (status, action) in the transition table"

OPEN_STATUSES = frozenset({S.submitted, S.received, S.processing, S.awaiting_supplement, S.awaiting_payment})
CLOSED_STATUSES = frozenset(S) - OPEN_STATUSES - {S.resolved}

def find(status: S | str, action: Action | str) -> Transition | None:
    try:
        return _BY_KEY.get((S(status), Action(action)))
    except ValueError:
        return None


def from_status(status: S | str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.status == S(status)]
