"""Shared pydantic field types of the HTTP edge: times, dates and integers every schema uses.

* `LocalDateTime`: a moment. Input without an offset (`2026-12-01`, `2026-12-02T08:00:00`) is
  Vietnamese local time (Asia/Ho_Chi_Minh); output is always ISO 8601 with `+07:00`, whatever
  zone the value was computed in (the database gives UTC). Years 1900–2100 only.
* `LocalDate`: a calendar day, years 1900–2100.
* `Int32` / `Id`: integers that fit the INTEGER columns they end up in (ids: 1..2^31-1), so an
  out-of-range number answers 422 instead of reaching the database.

* `LocalTimesJSON`: a free-form JSON object (event data) whose ISO 8601 moments with an offset,
  stored as they were written (UTC), are answered with `+07:00` like every other time.

Every request and response schema uses these instead of bare `datetime`, `date` and unbounded
`int` (tests/security/test_hostile_input.py walks the OpenAPI schema to check it).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from annotated_types import Ge, Le
from pydantic import AfterValidator, GetJsonSchemaHandler, PlainSerializer
from pydantic_core import CoreSchema

LOCAL_TZ_NAME = "Asia/Ho_Chi_Minh"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)
MIN_YEAR, MAX_YEAR = 1900, 2100
INT32_MAX = 2**31 - 1

LOCAL_TIME_NOTE = ("Giờ Việt Nam: thời điểm không ghi múi giờ (ví dụ 2026-12-01 hoặc 2026-12-02T08:00:00) được hiểu "
                   "là giờ Asia/Ho_Chi_Minh (+07:00); kết quả luôn trả về dạng ISO 8601 kèm +07:00. "
                   f"Năm từ {MIN_YEAR} đến {MAX_YEAR}.")
LOCAL_DATE_NOTE = f"Ngày theo lịch Việt Nam (YYYY-MM-DD), năm từ {MIN_YEAR} đến {MAX_YEAR}."


def _in_range(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"năm phải từ {MIN_YEAR} đến {MAX_YEAR}")


def as_local(value: datetime) -> datetime:
    """A naive datetime is Vietnamese local time; an aware one keeps its instant."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    _in_range(value.year)
    # The instant must also be representable once converted (UTC, the zone of the columns).
    _in_range(value.astimezone(LOCAL_TZ).year)
    return value


def local_day_start(day: date) -> datetime:
    """Midnight of `day` in Vietnam (for filters given as a day)."""
    return datetime.combine(day, time(), LOCAL_TZ)


def _check_day(value: date) -> date:
    _in_range(value.year)
    return value


def local_iso(value: datetime) -> str:
    if value.tzinfo is None:  # a naive value inside the service is UTC (never expected; be explicit)
        raise ValueError("naive datetime in a response")
    return value.astimezone(LOCAL_TZ).isoformat()


class _Documented:
    """Adds the type's note (and `x-timezone`) to its JSON schema; a field's own description wins
    over the note, the `x-timezone` key stays."""

    def __init__(self, note: str, timezone: bool) -> None:
        self.note = note
        self.timezone = timezone

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema = handler.resolve_ref_schema(handler(schema))
        json_schema.setdefault("description", self.note)
        if self.timezone:
            json_schema["x-timezone"] = LOCAL_TZ_NAME
        return json_schema

    def __hash__(self) -> int:
        return hash((self.note, self.timezone))


LocalDateTime = Annotated[
    datetime,
    AfterValidator(as_local),
    PlainSerializer(local_iso, return_type=str, when_used="json"),
    _Documented(LOCAL_TIME_NOTE, timezone=True),
]
LocalDate = Annotated[date, AfterValidator(_check_day), _Documented(LOCAL_DATE_NOTE, timezone=False)]
Int32 = Annotated[int, Ge(-INT32_MAX - 1), Le(INT32_MAX)]
Id = Annotated[int, Ge(1), Le(INT32_MAX)]


_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)")


def localize_times(value: Any) -> Any:
    """Rewrite every ISO moment with an offset inside `value` (dicts, lists) in Vietnamese time."""
    if isinstance(value, dict):
        return {key: localize_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [localize_times(item) for item in value]
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        try:
            return datetime.fromisoformat(value).astimezone(LOCAL_TZ).isoformat()
        except (ValueError, OverflowError):
            return value
    return value


LocalTimesJSON = Annotated[dict, PlainSerializer(localize_times, return_type=dict, when_used="json")]
