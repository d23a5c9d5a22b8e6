"""The dossier's vocabulary: its actions, the national portal's status codes and the Vietnamese
labels people read. The transition table (`app.workflows.transitions`) is built from these; the
effects of a change (`app.effects`), the portal mapping and the pages read them too, without
depending on the workflow package.
"""

from __future__ import annotations

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
    Action.accept: "Tiếp nhận hồ sơ",
    Action.refuse: "Từ chối tiếp nhận",
    Action.forward: "Chuyển bước xử lý",
    Action.send_back: "Trả lại bước trước",
    Action.request_supplement: "Yêu cầu bổ sung, hoàn thiện hồ sơ",
    Action.supplement_received: "Nhận hồ sơ bổ sung",
    Action.request_payment: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Action.payment_confirmed: "Xác nhận đã nộp phí, lệ phí",
    Action.withdraw: "Rút hồ sơ theo yêu cầu",
    Action.stop: "Dừng xử lý hồ sơ",
    Action.resolve: "Hoàn thành, có kết quả",
    Action.return_result: "Trả kết quả",
}


# Who does a step, as a sentence reads it ("do chuyên viên thực hiện").
ROLE_NAMES: dict[str, str] = {
    Role.desk: "cán bộ Bộ phận Một cửa", Role.specialist: "chuyên viên", Role.leader: "lãnh đạo",
    Role.postal: "nhân viên bưu chính", Role.admin: "quản trị viên", Role.reporter: "cán bộ tổng hợp"}

# What a transition does to the time limit (app.workflows.transitions.ClockEffect values).
CLOCK_LABELS: dict[str, str] = {
    "none": "Không thay đổi",
    "start": "Bắt đầu tính thời hạn giải quyết",
    "pause": "Tạm dừng (chờ người nộp)",
    "resume": "Tính tiếp, cộng thời gian tạm dừng vào ngày hẹn",
    "resume_or_reset": "Tính tiếp hoặc tính lại từ đầu, theo quy định của thủ tục",
    "stop": "Dừng tính thời hạn",
}


# Events that are not transitions of the table but appear in a dossier's timeline.
OTHER_EVENT_LABELS: dict[str, str] = {
    "submit": "Nộp hồ sơ trực tuyến",
    "receive": "Tiếp nhận hồ sơ",
    "deadline_recomputed": "Điều chỉnh ngày hẹn do thay đổi lịch làm việc",
    "deadline_moved": "Dời ngày hẹn trả do thay đổi lịch làm việc",
    "apology_issued": "Gửi văn bản xin lỗi và hẹn lại ngày trả kết quả",
    "import": "Nhập từ hệ thống một cửa cũ",
    "file_added": "Số hóa thành phần hồ sơ",
    "file_refused": "Từ chối tệp đính kèm",
    "handover_accepted": "Cơ quan tiếp theo nhận bàn giao hồ sơ liên thông",
    "handover_returned": "Cơ quan tiếp theo trả lại hồ sơ bàn giao liên thông",
    "opinions_requested": "Lấy ý kiến cơ quan liên quan",
    "opinion_answered": "Cơ quan được lấy ý kiến trả lời",
    "payment_requested": "Thông báo phí, lệ phí phải nộp",
    "payment_received": "Đã nộp phí, lệ phí",
    "payment_refund": "Ghi nhận hoàn trả phí, lệ phí",
}


def event_label(action: str) -> str | None:
    """Vietnamese label of a timeline event; None for an internal event with no public meaning."""
    try:
        return ACTION_LABELS[Action(action)]
    except ValueError:
        return OTHER_EVENT_LABELS.get(action)
