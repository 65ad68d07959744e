"""When automations run: the schedule rules a resident chooses, read as a calendar.

Run times are checked in the resident's wall-clock time (what they picked) and in UTC (what the sweep
stores in ``next_run_at``). Where "now" matters the clock is frozen; otherwise the instant to search
from is passed explicitly.
"""
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from webapp.services.automations.schedules import Schedule, ScheduleError, describe, to_utc

LAGOS = "Africa/Lagos"
LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local_runs(schedule: Schedule, after: datetime, limit: int) -> list[datetime]:
    """The next run times as naive local wall-clock times, for reading against a calendar."""
    return [w.astimezone(schedule.zone).replace(tzinfo=None) for w in schedule.occurrences_after(after, limit)]


def run_dates(schedule: Schedule, after: datetime, limit: int) -> list[date]:
    return [w.date() for w in local_runs(schedule, after, limit)]


def monthly_on(day: int, starts_on: date = date(2027, 1, 1), **kw) -> Schedule:
    return Schedule(kind="monthly_day", day_of_month=day, starts_on=starts_on, **kw)


def daily(starts_on: date, at: time, timezone: str) -> Schedule:
    return Schedule(kind="interval", interval_unit="day", starts_on=starts_on, time_of_day=at, timezone=timezone)


# --- day of month, clamped to short months ---------------------------------------------------------

def test_the_31st_runs_on_28_february_in_2027():
    schedule = monthly_on(31, starts_on=date(2027, 2, 1))
    assert local_runs(schedule, utc(2027, 2, 1), 1) == [datetime(2027, 2, 28, 9, 0)]


def test_the_31st_runs_on_29_february_in_leap_year_2028():
    schedule = monthly_on(31, starts_on=date(2028, 2, 1))
    assert local_runs(schedule, utc(2028, 2, 1), 1) == [datetime(2028, 2, 29, 9, 0)]


def test_every_month_on_the_31st_runs_on_each_months_last_day_when_the_month_is_shorter():
    assert run_dates(monthly_on(31), utc(2027, 1, 1), 12) == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30),
        date(2027, 5, 31), date(2027, 6, 30), date(2027, 7, 31), date(2027, 8, 31),
        date(2027, 9, 30), date(2027, 10, 31), date(2027, 11, 30), date(2027, 12, 31),
    ]


def test_the_30th_runs_on_the_last_day_of_february_and_on_the_30th_in_longer_months():
    assert run_dates(monthly_on(30), utc(2027, 1, 1), 4) == [
        date(2027, 1, 30), date(2027, 2, 28), date(2027, 3, 30), date(2027, 4, 30)]
    assert run_dates(monthly_on(30, starts_on=date(2028, 2, 1)), utc(2028, 2, 1), 2) == [
        date(2028, 2, 29), date(2028, 3, 30)]


def test_the_29th_runs_on_28_february_outside_leap_years_and_on_the_29th_in_them():
    assert run_dates(monthly_on(29, starts_on=date(2027, 2, 1)), utc(2027, 2, 1), 2) == [
        date(2027, 2, 28), date(2027, 3, 29)]
    assert run_dates(monthly_on(29, starts_on=date(2028, 2, 1)), utc(2028, 2, 1), 1) == [date(2028, 2, 29)]


def test_a_day_that_every_month_has_is_never_moved():
    assert {d.day for d in run_dates(monthly_on(28), utc(2027, 1, 1), 12)} == {28}


def test_the_first_run_is_the_first_matching_day_on_or_after_the_start_date():
    schedule = monthly_on(10, starts_on=date(2027, 1, 15))
    assert run_dates(schedule, utc(2026, 12, 1), 2) == [date(2027, 2, 10), date(2027, 3, 10)]


def test_the_start_date_itself_is_a_run_when_it_matches():
    schedule = monthly_on(31, starts_on=date(2027, 1, 31))
    assert local_runs(schedule, utc(2026, 12, 1), 1) == [datetime(2027, 1, 31, 9, 0)]


# --- last day, nth weekday, weekly ----------------------------------------------------------------

def test_last_day_of_month_follows_each_months_length():
    schedule = Schedule(kind="last_day", starts_on=date(2028, 1, 1))
    assert run_dates(schedule, utc(2028, 1, 1), 4) == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]


def test_second_tuesday_of_each_month():
    schedule = Schedule(kind="nth_weekday", nth=2, weekday=1, starts_on=date(2027, 1, 1))
    assert run_dates(schedule, utc(2027, 1, 1), 8) == [
        date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9), date(2027, 4, 13),
        date(2027, 5, 11), date(2027, 6, 8), date(2027, 7, 13), date(2027, 8, 10),
    ]


def test_last_friday_of_each_month():
    schedule = Schedule(kind="nth_weekday", nth=-1, weekday=4, starts_on=date(2027, 1, 1))
    assert run_dates(schedule, utc(2027, 1, 1), 4) == [
        date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 26), date(2027, 4, 30)]


def test_weekly_on_monday_and_friday_alternates_between_the_two_days():
    schedule = Schedule(kind="weekly", weekdays=(4, 0), starts_on=date(2027, 1, 6))  # a Wednesday
    assert run_dates(schedule, utc(2027, 1, 1), 5) == [
        date(2027, 1, 8), date(2027, 1, 11), date(2027, 1, 15), date(2027, 1, 18), date(2027, 1, 22)]


# --- intervals from a start date ------------------------------------------------------------------

def test_every_two_weeks_runs_on_the_start_date_and_every_fourteen_days_after():
    schedule = Schedule(kind="interval", interval_unit="week", interval_count=2, starts_on=date(2027, 1, 6))
    assert run_dates(schedule, utc(2027, 1, 1), 4) == [
        date(2027, 1, 6), date(2027, 1, 20), date(2027, 2, 3), date(2027, 2, 17)]


def test_every_two_weeks_stays_in_step_with_the_start_when_searching_from_an_off_week():
    schedule = Schedule(kind="interval", interval_unit="week", interval_count=2, starts_on=date(2027, 1, 6))
    assert run_dates(schedule, utc(2027, 1, 21), 1) == [date(2027, 2, 3)]


def test_every_three_months_from_31_january_clamps_and_returns_to_the_31st():
    schedule = Schedule(kind="interval", interval_unit="month", interval_count=3, starts_on=date(2027, 1, 31))
    assert run_dates(schedule, utc(2027, 1, 1), 5) == [
        date(2027, 1, 31), date(2027, 4, 30), date(2027, 7, 31), date(2027, 10, 31), date(2028, 1, 31)]


def test_every_month_from_30_january_runs_on_28_february_then_the_30th_again():
    schedule = Schedule(kind="interval", interval_unit="month", starts_on=date(2027, 1, 30))
    assert run_dates(schedule, utc(2027, 1, 1), 3) == [date(2027, 1, 30), date(2027, 2, 28), date(2027, 3, 30)]


def test_every_ten_days_counts_across_month_ends():
    schedule = Schedule(kind="interval", interval_unit="day", interval_count=10, starts_on=date(2027, 1, 25))
    assert run_dates(schedule, utc(2027, 1, 1), 4) == [
        date(2027, 1, 25), date(2027, 2, 4), date(2027, 2, 14), date(2027, 2, 24)]


# --- ends ----------------------------------------------------------------------------------------

def test_end_by_count_counts_runs_before_the_search_instant():
    schedule = monthly_on(1, max_occurrences=3)  # Jan 1, Feb 1, Mar 1, then done
    assert run_dates(schedule, utc(2027, 1, 15), 5) == [date(2027, 2, 1), date(2027, 3, 1)]


def test_end_by_count_has_no_run_after_the_last_one():
    schedule = monthly_on(1, max_occurrences=3)
    assert schedule.next_after(utc(2027, 3, 2)) is None


def test_end_date_is_inclusive():
    schedule = monthly_on(31, ends_on=date(2027, 3, 31), time_of_day=time(23, 30))
    assert run_dates(schedule, utc(2027, 1, 1), 5) == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]


def test_end_date_the_day_before_a_run_excludes_it():
    schedule = monthly_on(31, ends_on=date(2027, 3, 30))
    assert run_dates(schedule, utc(2027, 1, 1), 5) == [date(2027, 1, 31), date(2027, 2, 28)]


# --- time zones ----------------------------------------------------------------------------------

def test_lagos_09_00_is_08_00_utc_in_january_and_in_july():
    schedule = monthly_on(1)
    assert schedule.occurrences_after(utc(2027, 1, 1), 1) == [utc(2027, 1, 1, 8, 0)]
    assert schedule.occurrences_after(utc(2027, 6, 2), 1) == [utc(2027, 7, 1, 8, 0)]


def test_london_09_00_stays_09_00_local_across_the_spring_change_while_utc_moves_an_hour():
    schedule = daily(date(2027, 3, 26), time(9, 0), LONDON)  # clocks go forward on Sunday 28 March
    assert schedule.occurrences_after(utc(2027, 3, 26), 4) == [
        utc(2027, 3, 26, 9), utc(2027, 3, 27, 9), utc(2027, 3, 28, 8), utc(2027, 3, 29, 8)]
    assert {w.time() for w in local_runs(schedule, utc(2027, 3, 26), 4)} == {time(9, 0)}


def test_new_york_09_00_stays_09_00_local_across_the_autumn_change_while_utc_moves_an_hour():
    schedule = daily(date(2027, 11, 6), time(9, 0), NEW_YORK)  # clocks go back on Sunday 7 November
    assert schedule.occurrences_after(utc(2027, 11, 6), 2) == [utc(2027, 11, 6, 13), utc(2027, 11, 7, 14)]


def test_a_time_in_the_spring_forward_gap_runs_one_hour_later_on_the_new_clock():
    schedule = daily(date(2027, 3, 27), time(1, 30), LONDON)  # 01:00-02:00 does not exist on 28 March
    assert schedule.occurrences_after(utc(2027, 3, 27), 3) == [
        utc(2027, 3, 27, 1, 30),  # 01:30 GMT
        utc(2027, 3, 28, 1, 30),  # 02:30 BST: moved forward by the gap, never earlier than asked
        utc(2027, 3, 29, 0, 30),  # 01:30 BST
    ]


def test_a_gap_time_is_never_moved_to_before_the_chosen_wall_clock_time():
    # 02:30 does not exist in New York on 14 March 2027; 01:30 EST (06:30 UTC) would be an hour early.
    assert to_utc(datetime(2027, 3, 14, 2, 30), ZoneInfo(NEW_YORK)) == utc(2027, 3, 14, 7, 30)  # 03:30 EDT


def test_a_fall_back_time_that_happens_twice_runs_at_the_first_one_only():
    schedule = daily(date(2027, 10, 30), time(1, 30), LONDON)  # 01:00-02:00 happens twice on 31 October
    assert schedule.occurrences_after(utc(2027, 10, 30), 3) == [
        utc(2027, 10, 30, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)]


def test_a_search_from_the_previous_utc_day_finds_a_run_in_a_zone_far_ahead_of_utc():
    schedule = monthly_on(1, time_of_day=time(0, 30), timezone="Pacific/Auckland")  # UTC+13 in summer
    assert schedule.occurrences_after(utc(2027, 1, 31, 11, 29), 1) == [utc(2027, 1, 31, 11, 30)]


# --- searching: after, between, now ---------------------------------------------------------------

def test_occurrences_after_is_strictly_after_by_default():
    assert monthly_on(1).occurrences_after(utc(2027, 2, 1, 8), 1) == [utc(2027, 3, 1, 8)]


def test_occurrences_after_inclusive_includes_a_run_at_that_instant():
    assert monthly_on(1).occurrences_after(utc(2027, 2, 1, 8), 1, inclusive=True) == [utc(2027, 2, 1, 8)]


def test_next_after_returns_the_single_next_run():
    assert monthly_on(1).next_after(utc(2027, 2, 1, 8, 0, 1)) == utc(2027, 3, 1, 8)


def test_occurrences_after_returns_at_most_limit_runs():
    assert len(monthly_on(1).occurrences_after(utc(2027, 1, 1), 3)) == 3


def test_between_includes_runs_exactly_at_both_bounds():
    assert monthly_on(1).between(utc(2027, 2, 1, 8), utc(2027, 4, 1, 8)) == [
        utc(2027, 2, 1, 8), utc(2027, 3, 1, 8), utc(2027, 4, 1, 8)]


def test_between_leaves_out_runs_a_second_outside_the_bounds():
    assert monthly_on(1).between(utc(2027, 2, 1, 8, 0, 1), utc(2027, 4, 1, 7, 59, 59)) == [utc(2027, 3, 1, 8)]


def test_between_before_the_start_date_is_empty():
    assert monthly_on(1, starts_on=date(2027, 6, 1)).between(utc(2027, 1, 1), utc(2027, 5, 31)) == []


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="naive"):
        monthly_on(1).occurrences_after(datetime(2027, 1, 1), 1)


@time_machine.travel(datetime(2027, 1, 31, 7, 59, tzinfo=UTC), tick=False)
def test_the_preview_from_now_includes_a_run_later_today():
    assert run_dates(monthly_on(31), datetime.now(UTC), 5) == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]


@time_machine.travel(datetime(2027, 1, 31, 8, 1, tzinfo=UTC), tick=False)
def test_the_preview_from_now_leaves_out_a_run_that_already_passed_today():
    assert run_dates(monthly_on(31), datetime.now(UTC), 2) == [date(2027, 2, 28), date(2027, 3, 31)]


# --- validation ----------------------------------------------------------------------------------

BASE = {"starts_on": date(2027, 1, 1)}


@pytest.mark.parametrize(("fields", "message"), [
    pytest.param({"kind": "monthly_day", "day_of_month": 0}, "Choose a day of the month from 1 to 31.", id="day-0"),
    pytest.param({"kind": "monthly_day", "day_of_month": 32}, "Choose a day of the month from 1 to 31.", id="day-32"),
    pytest.param({"kind": "monthly_day"}, "Choose a day of the month from 1 to 31.", id="day-missing"),
    pytest.param({"kind": "nth_weekday", "nth": 5, "weekday": 1},
                 "Choose first, second, third, fourth or last.", id="nth-5"),
    pytest.param({"kind": "nth_weekday", "nth": 0, "weekday": 1},
                 "Choose first, second, third, fourth or last.", id="nth-0"),
    pytest.param({"kind": "nth_weekday", "nth": 2, "weekday": 7}, "Choose a day of the week.", id="weekday-7"),
    pytest.param({"kind": "nth_weekday", "nth": 2}, "Choose a day of the week.", id="weekday-missing"),
    pytest.param({"kind": "weekly"}, "Choose at least one day of the week.", id="no-weekdays"),
    pytest.param({"kind": "weekly", "weekdays": (0, 7)}, "Choose at least one day of the week.", id="weekdays-7"),
    pytest.param({"kind": "last_day", "timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'.",
                 id="unknown-zone"),
    pytest.param({"kind": "last_day", "timezone": "../etc/passwd"}, "Unknown time zone '../etc/passwd'.",
                 id="zone-path"),
    pytest.param({"kind": "last_day", "ends_on": date(2026, 12, 31)},
                 "The end date must be on or after the start date.", id="end-before-start"),
    pytest.param({"kind": "last_day", "max_occurrences": 0}, "The number of payments must be at least 1.",
                 id="count-0"),
    pytest.param({"kind": "interval", "interval_count": 0}, "Repeat every 1 to 366 days, weeks or months.",
                 id="interval-0"),
    pytest.param({"kind": "interval", "interval_count": 367}, "Repeat every 1 to 366 days, weeks or months.",
                 id="interval-367"),
    pytest.param({"kind": "interval", "interval_unit": "year"}, "Choose days, weeks or months.", id="unit-year"),
    pytest.param({"kind": "yearly"}, "Choose how often this should run.", id="unknown-kind"),
])
def test_validate_names_the_bad_field(fields, message):
    with pytest.raises(ScheduleError) as raised:
        Schedule(**BASE, **fields).validate()
    assert str(raised.value) == message


def test_an_end_date_on_the_start_date_is_valid():
    Schedule(kind="last_day", starts_on=date(2027, 1, 1), ends_on=date(2027, 1, 1)).validate()


def test_a_schedule_error_is_a_value_error_for_form_handling():
    assert issubclass(ScheduleError, ValueError)


def test_an_invalid_schedule_has_no_run_dates():
    with pytest.raises(ScheduleError):
        monthly_on(32).occurrences_after(utc(2027, 1, 1), 1)


# --- describe ------------------------------------------------------------------------------------

def test_describe_monthly_day():
    assert describe(monthly_on(31)) == "Monthly on day 31 at 09:00 (Africa/Lagos)"


def test_describe_last_day():
    assert describe(Schedule(kind="last_day", starts_on=date(2027, 1, 1), time_of_day=time(18, 5))) == (
        "On the last day of each month at 18:05 (Africa/Lagos)")


def test_describe_nth_weekday():
    schedule = Schedule(kind="nth_weekday", nth=2, weekday=1, starts_on=date(2027, 1, 1), timezone=LONDON)
    assert describe(schedule) == "On the second Tuesday of each month at 09:00 (Europe/London)"


def test_describe_last_weekday():
    schedule = Schedule(kind="nth_weekday", nth=-1, weekday=4, starts_on=date(2027, 1, 1))
    assert describe(schedule) == "On the last Friday of each month at 09:00 (Africa/Lagos)"


def test_describe_weekly_lists_days_in_week_order():
    schedule = Schedule(kind="weekly", weekdays=(4, 0), starts_on=date(2027, 1, 1))
    assert describe(schedule) == "Weekly on Monday, Friday at 09:00 (Africa/Lagos)"


def test_describe_every_single_unit_has_no_number():
    schedule = Schedule(kind="interval", interval_unit="month", starts_on=date(2027, 1, 31))
    assert describe(schedule) == "Every month from 31 Jan 2027 at 09:00 (Africa/Lagos)"


def test_describe_every_n_units_uses_the_plural():
    schedule = Schedule(kind="interval", interval_unit="week", interval_count=2, starts_on=date(2027, 1, 6),
                        time_of_day=time(7, 30))
    assert describe(schedule) == "Every 2 weeks from 06 Jan 2027 at 07:30 (Africa/Lagos)"
