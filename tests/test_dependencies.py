"""The installed dependencies carry the facts the service relies on (issue 12, item 14).

Vietnam's 2026 calendar as decided: Tết 16-20/2; Hùng Kings 26/4 (a Sunday) moved to 27/4;
30/4 and 1/5; National Day 2/9 with its adjacent day 1/9, plus Monday 31/8 off in exchange for
Saturday 22/8 worked; Vietnam Culture Day 24/11 (new in 2025). `holidays` has all of it from
0.106 (pyproject's floor); 0.85-0.105 lack 24/11 and the 2025-2026 swaps. The lock files pin
every version and `make lock` regenerates them from pyproject.toml.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path

import holidays
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from app.sla.calendar import WorkingCalendar

ROOT = Path(__file__).resolve().parent.parent

NON_WORKING_2026 = {
    date(2026, 1, 1): "New Year",
    date(2026, 2, 16): "Tết (30 Tết)", date(2026, 2, 17): "Tết (mùng 1)", date(2026, 2, 18): "Tết (mùng 2)",
    date(2026, 2, 19): "Tết (mùng 3)", date(2026, 2, 20): "Tết (mùng 4)",
    date(2026, 4, 27): "Hùng Kings, moved from Sunday 26/4",
    date(2026, 4, 30): "Reunification Day", date(2026, 5, 1): "Labour Day",
    date(2026, 8, 31): "off in exchange for Saturday 22/8",
    date(2026, 9, 1): "National Day, adjacent day", date(2026, 9, 2): "National Day",
    date(2026, 11, 24): "Vietnam Culture Day",
}
WORKING_2026 = [
    date(2026, 2, 13), date(2026, 2, 23),  # the weekdays around Tết
    date(2026, 8, 22),  # a Saturday worked (for 31/8)
    date(2026, 9, 3), date(2026, 11, 23), date(2026, 11, 25), date(2026, 12, 31),
]


def test_holidays_vn_knows_2026():
    vn = holidays.VN(years=range(2025, 2028))
    for day, what in NON_WORKING_2026.items():
        if day.weekday() < 5 and day != date(2026, 4, 27):
            assert day in vn, f"{day} ({what}) missing from holidays {holidays.__version__}"
    assert date(2026, 4, 26) in vn and date(2026, 4, 27) in vn  # the Sunday and its weekday in lieu
    assert date(2026, 8, 22) in vn.weekend_workdays and date(2025, 4, 26) in vn.weekend_workdays
    assert date(2025, 5, 2) in vn  # the 2025 swap: Friday 2/5 off for Saturday 26/4
    for day in WORKING_2026:
        if day.weekday() < 5:
            assert day not in vn, day


def test_working_calendar_2026():
    cal = WorkingCalendar()
    for day, what in NON_WORKING_2026.items():
        assert not cal.is_working_day(day), f"{day} ({what}) counted as a working day"
    for day in WORKING_2026:
        assert cal.is_working_day(day), f"{day} not counted as a working day"
    assert not cal.is_working_day(date(2026, 8, 29))  # an ordinary Saturday
    # Whole Tết week: a dossier due in 1 working day from Friday 13/2 17:00 is due on Monday 23/2.
    tz = cal.tz
    due = cal.add_working_minutes(datetime(2026, 2, 13, 17, 0, tzinfo=tz), 8 * 60)
    assert due == datetime(2026, 2, 23, 17, 0, tzinfo=tz)
    # Culture Day: Monday 23/11 17:00 + 1 working day is Wednesday 25/11.
    assert cal.add_working_minutes(datetime(2026, 11, 23, 17, 0, tzinfo=tz), 8 * 60).date() == date(2026, 11, 25)
    # 2026 has 365 - 104 weekend days - 13 weekday holidays + 1 worked Saturday working days.
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert sum(cal.is_working_day(d) for d in days) == 365 - 104 - 13 + 1


def _floor(name: str) -> Version:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        if requirement.name == name:
            return next(Version(s.version) for s in requirement.specifier if s.operator == ">=")
    raise AssertionError(f"{name} not in pyproject dependencies")


def test_pyproject_floor_of_holidays_has_the_2026_rules():
    assert _floor("holidays") >= Version("0.106")


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_lock_files_pin_every_requirement_with_hashes(lock):
    text = (ROOT / lock).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", text, re.MULTILINE))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + (project["optional-dependencies"]["dev"] if "dev" in lock else [])
    for spec in wanted:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in {k.lower().replace("_", "-") for k in pins}, f"{name} not pinned in {lock}: run make lock"
        version = next(v for k, v in pins.items() if k.lower().replace("_", "-") == name)
        assert requirement.specifier.contains(version, prereleases=True), \
            f"{lock} pins {name}=={version}, pyproject wants {requirement.specifier}: run make lock"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    assert all("--hash=sha256:" in b for b in blocks if re.match(r"[A-Za-z0-9]", b)), "a pin without hashes"


def test_installed_versions_are_the_locked_ones():
    from importlib.metadata import version

    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (ROOT / "requirements-dev.lock").read_text(), re.MULTILINE))
    assert version("holidays") == pins["holidays"]
    assert Version(holidays.__version__) >= Version("0.106")
