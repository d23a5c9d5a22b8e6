"""The deadline explanation a person reads (GET /api/v1/dossiers/{code}/deadline `explanation`):
one Vietnamese paragraph that states each fact once — the limit or the procedure's rule, when the
clock started, the working hours, the days not counted, the waiting added, the appointment (with
the reasons it moved), an open pause, the apology's new appointment, lateness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.models import ClockPause, ClockState, Dossier, Procedure
from app.sla.deadlines import DeadlineExplanation

PAUSE_REASONS = {"supplement": "chờ người nộp bổ sung hồ sơ", "payment": "chờ người nộp thực hiện nghĩa vụ tài chính"}
UNITS = {"working_days": "ngày làm việc", "working_hours": "giờ làm việc"}
MAX_DAYS_LISTED = 8


@dataclass(frozen=True)
class Move:
    due_before: datetime
    due_after: datetime
    reason: str | None


def _at(value: datetime, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%H:%M %d/%m/%Y}"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} giờ" if hours else "", f"{rest} phút" if rest else "") if part)


def explanation_text(explanation: DeadlineExplanation, *, dossier: Dossier, procedure: Procedure, hours: str,
                     tz: ZoneInfo, due_at: datetime, moves: Sequence[Move], open_pause: ClockPause | None) -> str:
    # The procedure's own rule (same-day cut-off) is its own sentence, and stands for the limit.
    rule = f"{explanation.rule.rstrip()} " if explanation.rule else ""
    limit = ("Tính" if rule else
             f"Thời hạn {procedure.time_limit_value} {UNITS.get(procedure.time_limit_unit, procedure.time_limit_unit)}"
             + (f" ({explanation.limit_minutes // 60} giờ làm việc)" if procedure.time_limit_unit == "working_days"
                else "") + ", tính")
    parts = [f"{limit} từ {_at(explanation.clock_started_at, tz)}", f"trong giờ làm việc {hours}"]
    if days := explanation.skipped_days:
        listed = ", ".join(f"{d.day:%d/%m} ({d.reason})" for d in days[:MAX_DAYS_LISTED])
        parts.append(f"không tính {len(days)} ngày nghỉ: {listed}" + (", …" if len(days) > MAX_DAYS_LISTED else ""))
    if waited := sum(minutes for _, minutes in explanation.pauses):
        parts.append(f"cộng {_duration(waited)} làm việc tạm dừng chờ người nộp")
    appointment = f"hẹn trả {_at(due_at, tz)}"
    seen: set[tuple[datetime, datetime]] = set()
    moved = []
    for move in moves:  # a move recorded twice (a re-run recomputation) is said once
        if (move.due_before, move.due_after) in seen:
            continue
        seen.add((move.due_before, move.due_after))
        moved.append(f"từ {_at(move.due_before, tz)}" + (f" vì {move.reason.rstrip('. ')}" if move.reason else ""))
    if moved:
        appointment += " (đã dời " + "; ".join(moved) + ")"
    text = rule + "; ".join(parts) + "; " + appointment + "."
    if dossier.clock_state == ClockState.paused and open_pause is not None:
        text += (f" Thời hạn đang tạm dừng từ {_at(open_pause.started_at, tz)} "
                 f"({PAUSE_REASONS.get(open_pause.reason, 'chờ người nộp')})"
                 + ("; khi nhận đủ, thời hạn được tính lại từ đầu." if open_pause.rule == "reset"
                    else "; ngày hẹn sẽ cộng thêm thời gian tạm dừng."))
    if dossier.new_due_at is not None:
        text += f" Hẹn lại theo văn bản xin lỗi: {_at(dossier.new_due_at, tz)}."
    if dossier.late_since is not None:
        text += f" Hồ sơ quá hạn từ {_at(dossier.late_since, tz)}."
    return text
