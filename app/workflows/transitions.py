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


class Action(StrEnum):
    accept = "accept"
    refuse = "refuse"
    forward = "forward"
    send_back = "send_back"
    request_supplement = "request_supplement"
    supplement_received = "supplement_received"
    request_payment = "request_payment"
    payment_confirmed = "payment_confirmed"
    withdraw = "withdraw"
    stop = "stop"
    resolve = "resolve"
    return_result = "return_result"


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
    _t(S.received, A.refuse, {DESK}, S.refused, C.stop),
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

# National portal (DVCQG) TrangThaiHoSo.
PORTAL_STATUS: dict[S, int] = {
    S.submitted: 1, S.received: 2, S.refused: 3, S.processing: 4, S.awaiting_supplement: 5,
    S.awaiting_payment: 6, S.withdrawn: 7, S.stopped: 8, S.resolved: 9, S.returned: 10,
}

STATUS_LABELS: dict[S, str] = {
    S.submitted: "Mới đăng ký, chờ tiếp nhận",
    S.received: "Đã tiếp nhận",
    S.refused: "Không được tiếp nhận",
    S.processing: "Đang xử lý",
    S.awaiting_supplement: "Chờ bổ sung giấy tờ",
    S.awaiting_payment: "Chờ thực hiện nghĩa vụ tài chính",
    S.withdrawn: "Đã rút hồ sơ theo yêu cầu",
    S.stopped: "Dừng xử lý",
    S.resolved: "Đã có kết quả, chờ trả",
    S.returned: "Đã trả kết quả",
}

ACTION_LABELS: dict[Action, str] = {
    A.accept: "Tiếp nhận hồ sơ",
    A.refuse: "Từ chối tiếp nhận",
    A.forward: "Chuyển bước xử lý",
    A.send_back: "Trả lại bước trước",
    A.request_supplement: "Yêu cầu bổ sung, hoàn thiện hồ sơ",
    A.supplement_received: "Nhận hồ sơ bổ sung",
    A.request_payment: "Yêu cầu thực hiện nghĩa vụ tài chính",
    A.payment_confirmed: "Xác nhận đã nộp phí, lệ phí",
    A.withdraw: "Rút hồ sơ theo yêu cầu",
    A.stop: "Dừng xử lý hồ sơ",
    A.resolve: "Hoàn thành, có kết quả",
    A.return_result: "Trả kết quả",
}


# Events that are not transitions of the table but appear in a dossier's timeline.
OTHER_EVENT_LABELS: dict[str, str] = {
    "submit": "Nộp hồ sơ trực tuyến",
    "receive": "Tiếp nhận hồ sơ",
    "deadline_recomputed": "Điều chỉnh ngày hẹn do thay đổi lịch làm việc",
    "apology_issued": "Gửi văn bản xin lỗi và hẹn lại ngày trả kết quả",
    "import": "Nhập từ hệ thống một cửa cũ",
}


def event_label(action: str) -> str | None:
    """Vietnamese label of a timeline event; None for an internal event with no public meaning."""
    try:
        return ACTION_LABELS[Action(action)]
    except ValueError:
        return OTHER_EVENT_LABELS.get(action)


def find(status: S | str, action: Action | str) -> Transition | None:
    try:
        return _BY_KEY.get((S(status), Action(action)))
    except ValueError:
        return None


def from_status(status: S | str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.status == S(status)]
