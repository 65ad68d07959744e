"""When automations run: interval and calendar schedules computed with ``dateutil.rrule``, and
"before my meter runs out" (``run_out``), whose run times are planned from the meter's own top-ups
(``automations.top_ups``) and carried in the schedule as ``planned`` (the next run) and ``every``
(how long a top-up lasts, for projections; None: only the next run is known).

Occurrences are generated in the resident's local wall-clock time and converted to UTC, so
"the 1st at 09:00 in Africa/Lagos" stays 09:00 local through daylight-saving changes elsewhere.
Calendar days that a month lacks are clamped: the 31st pays on the last day of shorter months.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, weekday

RUN_OUT = "run_out"
KINDS = ("interval", "monthly_day", "last_day", "nth_weekday", "weekly", RUN_OUT)
LEAD_HOURS = (6, 12, 24, 48, 72)  # how long before the predicted run-out a top-up may be bought
UNITS = {"day": DAILY, "week": WEEKLY, "month": MONTHLY}
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleError(ValueError):
    """A schedule that cannot produce run dates, with a message fit for the form."""


@dataclass(frozen=True)
class Schedule:
    kind: str
    starts_on: date
    time_of_day: time = time(9, 0)
    timezone: str = "Africa/Lagos"
    interval_unit: str = "month"  # interval: day | week | month
    interval_count: int = 1
    day_of_month: int | None = None  # monthly_day: 1..31, clamped to the month's last day
    nth: int | None = None  # nth_weekday: 1..4, or -1 for the last
    weekday: int | None = None  # nth_weekday: 0 = Monday
    weekdays: tuple[int, ...] = field(default=())  # weekly: chosen days, 0 = Monday
    ends_on: date | None = None
    max_occurrences: int | None = None
    lead_hours: int | None = None  # run_out: buy this long before the predicted run-out
    planned: datetime | None = None  # run_out: the next run, as planned from the meter's top-ups
    every: timedelta | None = None  # run_out: how long one top-up lasts at the predicted usage

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ScheduleError("Choose how often this should run.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"Unknown time zone {self.timezone!r}.") from None
        if self.kind == "interval":
            if self.interval_unit not in UNITS:
                raise ScheduleError("Choose days, weeks or months.")
            if not 1 <= self.interval_count <= 366:
                raise ScheduleError("Repeat every 1 to 366 days, weeks or months.")
        if self.kind == "monthly_day" and not (self.day_of_month and 1 <= self.day_of_month <= 31):
            raise ScheduleError("Choose a day of the month from 1 to 31.")
        if self.kind == "nth_weekday":
            if self.nth not in (1, 2, 3, 4, -1):
                raise ScheduleError("Choose first, second, third, fourth or last.")
            if self.weekday is None or not 0 <= self.weekday <= 6:
                raise ScheduleError("Choose a day of the week.")
        if self.kind == RUN_OUT and self.lead_hours not in LEAD_HOURS:
            raise ScheduleError("Choose how long before the meter runs out to top it up.")
        if self.kind == "weekly" and (not self.weekdays or any(not 0 <= d <= 6 for d in self.weekdays)):
            raise ScheduleError("Choose at least one day of the week.")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ScheduleError("The end date must be on or after the start date.")
        if self.max_occurrences is not None and self.max_occurrences < 1:
            raise ScheduleError("The number of payments must be at least 1.")
        if self.max_occurrences is not None and self.ends_on is not None:
            raise ScheduleError("End either on a date or after a number of payments, not both.")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _rule(self) -> rrule:
        start = datetime.combine(self.starts_on, self.time_of_day)
        until = datetime.combine(self.ends_on, time(23, 59, 59)) if self.ends_on else None
        common = {"dtstart": start, "until": until, "count": self.max_occurrences,
                  "byhour": self.time_of_day.hour, "byminute": self.time_of_day.minute, "bysecond": 0}
        if self.kind == "interval":
            if self.interval_unit == "month":
                # Every N months on the start's day, clamped (Jan 31 → Apr 30 → Jul 31).
                return rrule(MONTHLY, interval=self.interval_count, **_clamped_day(self.starts_on.day), **common)
            return rrule(UNITS[self.interval_unit], interval=self.interval_count, **common)
        if self.kind == "monthly_day":
            return rrule(MONTHLY, **_clamped_day(self.day_of_month), **common)
        if self.kind == "last_day":
            return rrule(MONTHLY, bymonthday=-1, **common)
        if self.kind == "nth_weekday":
            return rrule(MONTHLY, byweekday=weekday(self.weekday, self.nth), **common)
        return rrule(WEEKLY, byweekday=sorted(set(self.weekdays)), **common)

    def occurrences_after(self, after: datetime, limit: int = 5, inclusive: bool = False) -> list[datetime]:
        """The next ``limit`` run times (UTC) strictly after ``after`` (or at it, if inclusive)."""
        result = []
        for when in self._iter_utc_from(after) if self.kind != RUN_OUT else self._planned_runs(limit):
            if when > after or (inclusive and when == after):
                result.append(when)
                if len(result) == limit:
                    break
        return result

    def next_after(self, after: datetime, inclusive: bool = False) -> datetime | None:
        found = self.occurrences_after(after, 1, inclusive)
        return found[0] if found else None

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Run times (UTC) with start <= t <= end."""
        if self.kind == RUN_OUT:  # one top-up at a time: the next is planned once this one is bought
            return [self.planned] if self.planned is not None and start <= self.planned <= end else []
        result = []
        for when in self._iter_utc_from(start):
            if when > end:
                break
            if when >= start:
                result.append(when)
        return result

    def _planned_runs(self, limit: int) -> Iterator[datetime]:
        if self.planned is None:
            return
        yield self.planned
        if self.every is not None and self.every > timedelta(0):
            for step in range(1, limit + 1):
                yield self.planned + step * self.every

    def _iter_utc_from(self, after: datetime) -> Iterator[datetime]:
        if after.tzinfo is None:
            raise ValueError("naive datetime")
        self.validate()
        rule = self._rule()
        # Start the walk a day early in local time so a zone offset never skips the first hit.
        local_after = after.astimezone(self.zone).replace(tzinfo=None) - timedelta(days=1)
        start = datetime.combine(self.starts_on, self.time_of_day)
        walk = rule.xafter(local_after, inc=True) if local_after > start else iter(rule)
        for local in walk:
            yield to_utc(local, self.zone)


def _clamped_day(day: int) -> dict:
    """rrule arguments for "day N of the month, or the month's last day when it has no day N"."""
    if day <= 28:
        return {"bymonthday": day}
    return {"bymonthday": tuple(range(28, day + 1)), "bysetpos": -1}


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time in UTC. A time that does not exist (spring forward) moves forward
    by the gap; an ambiguous one (fall back) takes the first occurrence."""
    # fold=0 uses the offset in force before a transition (PEP 495): an ambiguous time is its first
    # occurrence, and a time in a gap lands after the gap (01:30 -> 02:30 on the new clock). fold=1
    # would move a gap time back an hour, before the time the resident chose.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def describe(schedule: Schedule) -> str:
    """A short sentence for lists: "Monthly on day 31 at 09:00 (Africa/Lagos)"."""
    at = f"at {schedule.time_of_day:%H:%M} ({schedule.timezone})"
    if schedule.kind == RUN_OUT:
        return f"Before the meter runs out ({lead_words(schedule.lead_hours)} ahead)"
    if schedule.kind == "interval":
        unit = schedule.interval_unit + ("s" if schedule.interval_count != 1 else "")
        every = f"Every {schedule.interval_count} {unit}" if schedule.interval_count != 1 else f"Every {unit}"
        return f"{every} from {schedule.starts_on:%d %b %Y} {at}"
    if schedule.kind == "monthly_day":
        return f"Monthly on day {schedule.day_of_month} {at}"
    if schedule.kind == "last_day":
        return f"On the last day of each month {at}"
    if schedule.kind == "nth_weekday":
        nth = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}[schedule.nth]
        return f"On the {nth} {WEEKDAY_NAMES[schedule.weekday]} of each month {at}"
    days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(schedule.weekdays))
    return f"Weekly on {days} {at}"


def lead_words(hours: int | None) -> str:
    """12 -> "12 hours", 48 -> "2 days"."""
    hours = hours or 0
    if hours % 24 == 0:
        days = hours // 24
        return "1 day" if days == 1 else f"{days} days"
    return f"{hours} hours"
