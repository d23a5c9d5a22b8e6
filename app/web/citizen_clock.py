"""The citizen's clock on /tra-cuu (issue 17): where the time stands, in plain Vietnamese.

Working days left until the appointment; a clock paused while the agency waits for the applicant
("the time resumes when the documents arrive"); a late dossier with its apology and new
appointment. Counted on the agency's working calendar (app/sla), nothing else."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlmodel import Session

from app.models import ClockState, Dossier
from app.settings import Settings
from app.sla.deadlines import overdue_by
from app.sla.service import calendar_for

WAITING_FOR = {"awaiting_supplement": "chờ bổ sung hồ sơ", "awaiting_payment": "chờ nộp phí, lệ phí"}


class CitizenClockOut(BaseModel):
    state: str = Field(description="running | paused | late")
    text: str = Field(description="Thời hạn đang ở đâu, bằng lời cho người dân")
    working_days_left: float | None = None


def _span(days: int, hours: int) -> str:
    parts = ([f"{days} ngày"] if days else []) + ([f"{hours} giờ"] if hours else [])
    return " ".join(parts) + " làm việc" if parts else "dưới 1 giờ làm việc"


def _at(value: datetime, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%H:%M} ngày {value.astimezone(tz):%d/%m/%Y}"


def citizen_clock(session: Session, dossier: Dossier, *, now: datetime, settings: Settings) -> CitizenClockOut | None:
    """None once the result is ready (the outcome says it) or before the clock starts."""
    if dossier.due_at is None or dossier.clock_state not in (ClockState.running, ClockState.paused):
        return None
    tz = ZoneInfo(settings.timezone)
    if dossier.clock_state == ClockState.paused and dossier.paused_at is not None and dossier.late_since is None:
        why = WAITING_FOR.get(dossier.status, "chờ người nộp")
        return CitizenClockOut(state="paused", text=f"Tạm dừng từ {_at(dossier.paused_at, tz)}, {why} "
                                                    "(thời hạn tiếp tục tính khi nhận đủ).")
    cal = calendar_for(session, dossier.agency_id, settings)
    if dossier.late_since is not None or now > dossier.due_at:
        days, hours = overdue_by(cal, now, dossier.due_at)
        text = f"Trễ hạn {_span(days, hours)} so với ngày hẹn {_at(dossier.due_at, tz)}"
        if dossier.new_due_at is not None:
            text += f", đã có thư xin lỗi, hẹn trả mới {_at(dossier.new_due_at, tz)}."
        else:
            text += "; cơ quan sẽ gửi thư xin lỗi và hẹn lại ngày trả kết quả."
        return CitizenClockOut(state="late", text=text)
    left = cal.working_minutes_between(now, dossier.due_at)
    days, rest = divmod(left, cal.minutes_per_day)
    return CitizenClockOut(state="running", working_days_left=round(left / cal.minutes_per_day, 1),
                           text=f"Còn {_span(days, rest // 60)} đến hẹn trả kết quả ({_at(dossier.due_at, tz)}).")
