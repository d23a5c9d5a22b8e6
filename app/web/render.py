"""HTML for the printable forms: Jinja templates (autoescaped, strict) and Vietnamese date wording.

Dates follow the administrative-document convention (Decree 30/2020/NĐ-CP): a day below 10 and
the months 1 and 2 take a leading zero ("ngày 05 tháng 01 năm 2026", "ngày 23 tháng 11 năm 2026").
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


def vn_day(value: date | datetime | None) -> str:
    """'ngày 05 tháng 01 năm 2026'; '' for None."""
    if value is None:
        return ""
    month = f"{value.month:02d}" if value.month < 3 else str(value.month)
    return f"ngày {value.day:02d} tháng {month} năm {value.year}"


def vn_moment(value: datetime | None) -> str:
    """'09 giờ 05 phút, ngày 23 tháng 11 năm 2026'; '' for None."""
    if value is None:
        return ""
    return f"{value:%H} giờ {value:%M} phút, {vn_day(value)}"


def short_moment(value: datetime | None) -> str:
    """'09:05 23/11/2026' for table cells; '' for None."""
    return f"{value:%H:%M %d/%m/%Y}" if value is not None else ""


def short_day(value: date | datetime | None) -> str:
    return f"{value:%d/%m/%Y}" if value is not None else ""


def stacked_moment(value: datetime | None) -> Markup:
    """'09:05<br>23/11/2026' for narrow table cells (digits only, so the markup is safe)."""
    if value is None:
        return Markup("")
    return Markup(f"{value.hour:02d}:{value.minute:02d}<br>{value.day:02d}/{value.month:02d}/{value.year}")


def mid_sentence(text: str) -> str:
    """A name used inside a sentence: 'Chỉnh sửa văn bằng' -> 'chỉnh sửa văn bằng' (acronyms kept)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def clause(text: str | None) -> str:
    """Free text closing a sentence the template ends itself: no trailing full stop of its own."""
    return (text or "").strip().rstrip(".;").rstrip()


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("app.web", "templates/forms"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(vn_day=vn_day, vn_moment=vn_moment, short_moment=short_moment, short_day=short_day,
                       stacked_moment=stacked_moment, mid_sentence=mid_sentence, clause=clause)
    return env


def render(form: Any) -> str:
    """The A4 page of a form view model from `app.web.form_models` (its `spec` names the template)."""
    return _environment().get_template(form.spec.template).render(form=form)
