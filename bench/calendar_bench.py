"""Deadline computation: due dates per second through `WorkingCalendar.add_working_minutes` vs a
naive day-by-day loop over `holidays.VN`.

    .venv/bin/python bench/calendar_bench.py [--count 20000]

Both compute the same thing (checked on every input before timing): the moment when N working
minutes have run from a start moment, Monday–Friday 07:30–11:30 and 13:00–17:00, Vietnamese
holidays and worked Saturdays (`holidays.VN(...).weekend_workdays`) included. The naive loop walks
day by day and period by period, as a straightforward implementation would; it shares nothing
with the calendar but the holiday data. Inputs: random starts over 2024–2027 and limits of
1–40 working days or 1–40 working hours.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import holidays  # noqa: E402

from app.sla.calendar import WorkingCalendar  # noqa: E402
from bench.common import machine, record  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PERIODS = ((dtime(7, 30), dtime(11, 30)), (dtime(13, 0), dtime(17, 0)))


class Naive:
    def __init__(self) -> None:
        self.vn = holidays.VN(years=range(2023, 2031))
        self.worked = set(self.vn.weekend_workdays)

    def working(self, day: date) -> bool:
        if day in self.vn:
            return False
        return day.weekday() < 5 or day in self.worked

    def add(self, start: datetime, minutes: int) -> datetime:
        local = start.astimezone(VN)
        day, now = local.date(), local.time()
        left = timedelta(minutes=minutes)
        while True:
            if self.working(day):
                for begin, end in PERIODS:
                    if now >= end:
                        continue
                    frm = max(now, begin)
                    span = datetime.combine(day, end) - datetime.combine(day, frm)
                    if left <= span and (left > timedelta(0) or True):
                        if left == timedelta(0):
                            return datetime.combine(day, frm, tzinfo=VN)
                        return datetime.combine(day, frm, tzinfo=VN) + left
                    left -= span
            day += timedelta(days=1)
            now = dtime(0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(7)
    cal = WorkingCalendar(tz=VN)
    naive = Naive()
    inputs = []
    for _ in range(args.count):
        start = datetime(2024, 1, 1, tzinfo=VN) + timedelta(minutes=rng.randrange(0, 4 * 365 * 24 * 60))
        limit = rng.randrange(1, 41) * (480 if rng.random() < 0.8 else 60)
        inputs.append((start, limit))
    mismatches = [(s, m, cal.add_working_minutes(s, m), naive.add(s, m)) for s, m in inputs
                  if cal.add_working_minutes(s, m) != naive.add(s, m)]
    load_before = os.getloadavg()
    best = {}
    for name, fn in (("calendar", cal.add_working_minutes), ("naive", naive.add)):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            for s, m in inputs:
                fn(s, m)
            runs.append(args.count / (time.perf_counter() - t0))
        best[name] = round(max(runs))
    record("calendar", {
        "what": "due dates per second (add N working minutes), best of 3 runs over the same inputs",
        "baseline": "naive day-by-day loop over holidays.VN", "count": args.count, "machine": machine(),
        "load_before": load_before, "calendar_per_s": best["calendar"], "naive_per_s": best["naive"],
        "ratio": round(best["calendar"] / best["naive"], 1), "same_results": not mismatches,
        "mismatches": [tuple(str(x) for x in m) for m in mismatches[:5]], "mismatch_count": len(mismatches)})


if __name__ == "__main__":
    main()
