"""History import, first half: reading a file of past dossiers (CSV or JSON) and validating each
row, with reasons in Vietnamese by the physical line where the row starts (app/reports/history.py
writes what passed). Nothing here touches the database but the reads validation needs (agencies,
procedures, today's sequence numbers)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from app.errors import Invalid
from app.models import Agency, Channel, DossierStatus, OnlineLevel, Procedure, ReturnMethod


COLUMNS = ("code", "procedure_code", "agency_code", "channel", "online_level", "applicant_name",
           "applicant_id_number", "applicant_phone", "return_method", "status", "received_at", "due_at",
           "resolved_at", "returned_at", "refused_at", "withdrawn_at", "apology_issued_at", "new_due_at")
OPTIONAL_COLUMNS = ("stopped_at",)  # the usual header has no column for "stopped"; accepted when present
TIMESTAMPS = ("received_at", "due_at", "resolved_at", "returned_at", "refused_at", "withdrawn_at", "stopped_at",
              "apology_issued_at", "new_due_at")
PAST_ONLY = ("received_at", "resolved_at", "returned_at", "refused_at", "withdrawn_at", "stopped_at",
             "apology_issued_at")
S = DossierStatus
OPEN = {S.received, S.processing, S.awaiting_supplement, S.awaiting_payment}
CLOSING_FIELD = {S.refused: "refused_at", S.withdrawn: "withdrawn_at", S.stopped: "stopped_at"}
IMPORTABLE = OPEN | {S.resolved, S.returned} | set(CLOSING_FIELD)
MAX_ROWS = 200_000
MIN_YEAR, MAX_YEAR = 1990, 2100  # outside: a typing error (and no datetime overflow when converting to UTC)
MAX_SEQUENCE = 9999  # codes carry 4 digits (app.workflows.codes.format_code)
_CODE = re.compile(r"^[0-9A-Za-z.\-_/]{1,64}$")
_OUR_CODE = re.compile(r"^(?P<agency>.+)-(?P<day>\d{6})-(?P<number>\d+)$")


@dataclass
class RowError:
    row: int  # first physical line of the row in the CSV file (header = line 1), or position in the JSON list
    code: str | None
    errors: list[str]


@dataclass
class ValidRow:
    row: int
    values: dict[str, Any]
    agency: Agency
    procedure: Procedure


# --- reading ------------------------------------------------------------------------------------

def read_rows(content: bytes, *, filename: str | None = None) -> list[tuple[int, dict[str, str | None]]]:
    """(row number, values) from a CSV (header line) or a JSON list of objects (or {"rows": [...]})."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("Tệp phải mã hóa UTF-8.", code="import_encoding") from None
    stripped = text.lstrip()
    is_json = (filename or "").lower().endswith(".json") or stripped[:1] in ("[", "{")
    rows = _read_json(stripped) if is_json else _read_csv(text)
    if not rows:
        raise Invalid("Tệp không có dòng dữ liệu nào.", code="import_empty")
    if len(rows) > MAX_ROWS:
        raise Invalid(f"Tệp có quá {MAX_ROWS:,} dòng; hãy chia nhỏ.".replace(",", "."), code="import_too_large")
    return rows


def _check_columns(names: Iterable[str]) -> None:
    names = list(names)
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in COLUMNS and c not in OPTIONAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("thiếu cột " + ", ".join(missing))
        if unknown:
            parts.append("cột không được hỗ trợ " + ", ".join(n[:40] for n in unknown[:10]))
        raise Invalid("Tiêu đề tệp không đúng mẫu: " + "; ".join(parts) + ".", code="import_header",
                      detail={"missing": missing, "unknown": unknown[:10], "expected": list(COLUMNS)})


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _read_csv(text: str) -> list[tuple[int, dict[str, str | None]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise Invalid("Tệp rỗng.", code="import_empty") from None
    except csv.Error as exc:
        raise Invalid(f"Không đọc được tệp CSV: {exc}.", code="import_format") from None
    _check_columns(header)
    rows = []
    # `reader.line_num` counts physical lines read so far: a row starts on the line after the
    # previous row ended (a quoted field may hold line breaks: the row then spans several lines).
    ended = reader.line_num
    try:
        for cells in reader:
            first_line, ended = ended + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            values = {name: _clean(cells[i]) if i < len(cells) else None for i, name in enumerate(header)}
            if len(cells) > len(header):
                values["__extra__"] = "x"
            rows.append((first_line, values))
    except csv.Error as exc:
        raise Invalid(f"Không đọc được tệp CSV ở dòng {ended + 1}: {exc}.", code="import_format",
                      detail={"line": ended + 1}) from None
    return rows


def _read_json(text: str) -> list[tuple[int, dict[str, str | None]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"Không đọc được JSON (dòng {exc.lineno}, cột {exc.colno}).", code="import_format") from None
    if isinstance(data, dict):
        data = data.get("rows")
    if not isinstance(data, list):
        raise Invalid("JSON phải là một danh sách hồ sơ, hoặc {\"rows\": [...]}.", code="import_format")
    rows = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            rows.append((i, {"__not_object__": "x"}))
            continue
        rows.append((i, {str(k): _clean(v) for k, v in item.items()}))
    # Keys are those of the CSV header; a key left out of an object means "empty".
    names = set().union(*(r.keys() for _, r in rows)) - {"__not_object__"}
    _check_columns([*COLUMNS, *sorted(names - set(COLUMNS))])
    return rows


# --- validation ---------------------------------------------------------------------------------

def _moment(value: str, name: str, errors: list[str]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.append(f"{name}: '{value[:40]}' không phải thời điểm ISO 8601 (ví dụ 2026-01-05T08:30:00+07:00).")
        return None
    if moment.tzinfo is None:
        errors.append(f"{name}: thiếu múi giờ (ví dụ +07:00).")
        return None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        errors.append(f"{name}: năm {moment.year} nằm ngoài khoảng {MIN_YEAR}–{MAX_YEAR}.")
        return None
    return moment


def sequence_of(code: str, agency_code: str) -> tuple[date, int] | None:
    """(day, number) when `code` has our format `{agency}-{yyMMdd}-{NNNN}` for `agency_code` (checked rows only)."""
    m = _OUR_CODE.match(code)
    if m is None or m["agency"] != agency_code:
        return None
    try:
        return date(2000 + int(m["day"][:2]), int(m["day"][2:4]), int(m["day"][4:])), int(m["number"])
    except ValueError:
        return None


def _check_our_code(code: str, agency: Agency | None, agencies: dict[str, Agency], today: date,
                    errors: list[str]) -> None:
    """A code in our own form must not take a number the intake could give: dated before today, at most 9999."""
    m = _OUR_CODE.match(code)
    if m is None or m["agency"] not in agencies:
        return  # the old system's own numbering: it cannot collide with ours
    if agency is not None and m["agency"] != agency.code:
        errors.append("code: mã theo mẫu của một cơ quan khác với cột agency_code.")
        return
    try:
        day = date(2000 + int(m["day"][:2]), int(m["day"][2:4]), int(m["day"][4:]))
    except ValueError:
        errors.append("code: phần ngày (yyMMdd) của mã không phải ngày có thật.")
        return
    if day >= today:
        errors.append(f"code: mã mang ngày {day:%d/%m/%Y}, không trước hôm nay; không nhập mã của hôm nay hoặc "
                      "ngày sau (số thứ tự trong ngày do bộ phận một cửa cấp).")
    number = int(m["number"])
    if number > MAX_SEQUENCE:
        errors.append(f"code: số thứ tự trong ngày vượt quá {MAX_SEQUENCE}.")
    elif len(m["number"]) != 4 or number == 0:
        errors.append("code: số thứ tự trong ngày gồm đúng 4 chữ số, từ 0001 đến 9999.")


def _validate_row(number: int, raw: dict[str, str | None], *, agencies: dict[str, Agency],
                  procedures: dict[str, Procedure], scope_agency_id: int | None, now: datetime, today: date,
                  seen: dict[str, int]) -> ValidRow | RowError:
    errors: list[str] = []
    if "__not_object__" in raw:
        return RowError(number, None, ["Phần tử không phải một đối tượng JSON."])
    if "__extra__" in raw:
        errors.append("Dòng có nhiều ô hơn tiêu đề.")
    code = raw.get("code")
    if not code:
        errors.append("code: thiếu mã hồ sơ.")
    elif not _CODE.match(code):
        errors.append("code: mã hồ sơ tối đa 64 ký tự, chỉ gồm chữ, số và . - _ /.")
    elif code in seen:
        errors.append(f"code: trùng với dòng {seen[code]} trong cùng tệp.")
    else:
        seen[code] = number

    agency = agencies.get(raw.get("agency_code") or "")
    if agency is None:
        errors.append("agency_code: không có cơ quan mã này.")
    elif scope_agency_id is not None and agency.id != scope_agency_id:
        errors.append("agency_code: hồ sơ của cơ quan khác, không được nhập bằng tài khoản này.")
    if code and _CODE.match(code):
        _check_our_code(code, agency, agencies, today, errors)
    procedure = procedures.get(raw.get("procedure_code") or "")
    if procedure is None:
        errors.append("procedure_code: không có thủ tục mã này.")
    elif agency is not None and procedure.agency_id != agency.id:
        errors.append("procedure_code: thủ tục không thuộc thẩm quyền của cơ quan ở cột agency_code.")

    values: dict[str, Any] = {"code": code}
    for name, enum, default in (("channel", Channel, None), ("return_method", ReturnMethod, ReturnMethod.desk),
                                ("online_level", OnlineLevel, OnlineLevel.none)):
        text = raw.get(name)
        if text is None and default is not None:
            values[name] = default.value
        elif text is None or text not in {e.value for e in enum}:
            allowed = "|".join(e.value for e in enum)
            errors.append(f"{name}: phải là một trong {allowed}.")
        else:
            values[name] = text
    status_text = raw.get("status")
    status = S(status_text) if status_text in {s.value for s in S} else None
    if status is None:
        errors.append("status: trạng thái không hợp lệ (" + "|".join(sorted(s.value for s in IMPORTABLE)) + ").")
    elif status not in IMPORTABLE:
        errors.append("status: không nhập hồ sơ chưa tiếp nhận (submitted); hồ sơ chờ tiếp nhận đi qua Cổng DVC.")
    values["status"] = status

    name, id_number, phone = raw.get("applicant_name"), raw.get("applicant_id_number"), raw.get("applicant_phone")
    if not name or len(name) > 255:
        errors.append("applicant_name: cần họ tên người nộp (tối đa 255 ký tự).")
    if not id_number or len(id_number) > 32:
        errors.append("applicant_id_number: cần số giấy tờ của người nộp (tối đa 32 ký tự).")
    if phone is not None and len(phone) > 32:
        errors.append("applicant_phone: tối đa 32 ký tự.")
    values.update(applicant_name=name, applicant_id_number=id_number, applicant_phone=phone)

    t: dict[str, datetime | None] = {}
    for field_name in TIMESTAMPS:
        text = raw.get(field_name)
        t[field_name] = _moment(text, field_name, errors) if text else None
    for field_name in PAST_ONLY:
        if t[field_name] is not None and t[field_name] > now:  # type: ignore[operator]
            errors.append(f"{field_name}: thời điểm ở tương lai.")
    values.update(t)

    if status is not None:
        received, due = t["received_at"], t["due_at"]
        closing = CLOSING_FIELD.get(status)
        if received is None and status not in CLOSING_FIELD:
            errors.append("received_at: bắt buộc với trạng thái này.")
        if received is not None and due is None:
            errors.append("due_at: cần ngày hẹn trả khi đã tiếp nhận.")
        if received is not None and due is not None and due <= received:
            errors.append("due_at: ngày hẹn trả phải sau thời điểm tiếp nhận.")
        resolved_needed = status in (S.resolved, S.returned)
        for field_name, needed in (("resolved_at", resolved_needed), ("returned_at", status == S.returned),
                                   *((f, status == s) for s, f in CLOSING_FIELD.items())):
            if needed and t[field_name] is None:
                errors.append(f"{field_name}: bắt buộc với trạng thái {status.value}.")
            if not needed and t[field_name] is not None:
                errors.append(f"{field_name}: không dùng với trạng thái {status.value}.")
        end = t["resolved_at"] or (t[closing] if closing else None)
        if received is not None and end is not None and end < received:
            errors.append("Thời điểm kết thúc (có kết quả, từ chối, rút, dừng) trước thời điểm tiếp nhận.")
        if t["returned_at"] is not None and t["resolved_at"] is not None and t["returned_at"] < t["resolved_at"]:
            errors.append("returned_at: trả kết quả trước khi có kết quả.")
        apology = t["apology_issued_at"]
        if apology is not None and (received is None or due is None):
            errors.append("apology_issued_at: chỉ hồ sơ đã tiếp nhận, có ngày hẹn mới có văn bản xin lỗi.")
        elif apology is not None and received is not None and apology < received:
            errors.append("apology_issued_at: văn bản xin lỗi trước thời điểm tiếp nhận.")
        if t["new_due_at"] is not None:
            if apology is None:
                errors.append("new_due_at: ngày hẹn mới đi kèm văn bản xin lỗi (apology_issued_at).")
            elif due is not None and t["new_due_at"] <= due:
                errors.append("new_due_at: ngày hẹn mới phải sau ngày hẹn ban đầu.")
    if errors or agency is None or procedure is None:
        return RowError(number, code, errors)
    return ValidRow(number, values, agency, procedure)


def validate(session: Session, rows: list[tuple[int, dict[str, str | None]]], *, scope_agency_id: int | None,
             now: datetime, tz: str = "Asia/Ho_Chi_Minh") -> tuple[list[ValidRow], list[RowError]]:
    today = now.astimezone(ZoneInfo(tz)).date()
    procedure_codes = {r.get("procedure_code") for _, r in rows} - {None}
    # Every agency (a province's agencies and divisions: a small table): a code shaped like ours is
    # checked against the agency it names, whichever that is.
    agencies = {a.code: a for a in session.execute(select(Agency)).scalars()}
    procedures = {p.code: p for p in session.execute(select(Procedure).where(
        Procedure.code.in_(procedure_codes))).scalars()} if procedure_codes else {}
    valid, errors, seen = [], [], {}
    for number, raw in rows:
        outcome = _validate_row(number, raw, agencies=agencies, procedures=procedures,
                                scope_agency_id=scope_agency_id, now=now, today=today, seen=seen)
        (errors if isinstance(outcome, RowError) else valid).append(outcome)
    return valid, errors
