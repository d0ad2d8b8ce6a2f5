"""Slot generation: buffers, notice, horizon, exceptions, and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from blueprints.scheduling.slots import Exception_, Rules, free_slots

NINE_TO_FIVE = {day: [(time(9), time(17))] for day in range(5)}
HOUR = timedelta(hours=1)


def local(zone: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


def rules(**overrides) -> Rules:
    base = dict(
        time_zone="America/New_York",
        weekly_hours=NINE_TO_FIVE,
        min_notice=timedelta(0),
        horizon=timedelta(days=14),
        step=HOUR,
    )
    return Rules(**{**base, **overrides})


def on_day(slots, zone, day: date):
    return [s.astimezone(ZoneInfo(zone)).time() for s in slots if s.astimezone(ZoneInfo(zone)).date() == day]


def test_weekly_hours_in_the_clinicians_zone():
    now = local("America/New_York", 2026, 6, 1, 0, 0)  # a Monday
    slots = free_slots(rules(), HOUR, [], now)
    assert on_day(slots, "America/New_York", date(2026, 6, 1)) == [time(h) for h in range(9, 17)]
    assert on_day(slots, "America/New_York", date(2026, 6, 6)) == []  # Saturday
    assert all(s.tzinfo == UTC for s in slots)


def test_existing_appointments_and_buffers_block_time():
    now = local("America/New_York", 2026, 6, 1, 0, 0)
    busy = [(local("America/New_York", 2026, 6, 1, 11), local("America/New_York", 2026, 6, 1, 12))]
    slots = free_slots(rules(), HOUR, busy, now)
    assert time(11) not in on_day(slots, "America/New_York", date(2026, 6, 1))
    assert time(10) in on_day(slots, "America/New_York", date(2026, 6, 1))
    buffered = free_slots(
        rules(buffer_after=timedelta(minutes=15), buffer_before=timedelta(minutes=15)), HOUR, busy, now
    )
    assert on_day(buffered, "America/New_York", date(2026, 6, 1)) == [
        time(9),
        time(13),
        time(14),
        time(15),
        time(16),
    ]


def test_minimum_notice_and_horizon():
    now = local("America/New_York", 2026, 6, 1, 9, 30)
    slots = free_slots(rules(min_notice=timedelta(hours=3), horizon=timedelta(days=2)), HOUR, [], now)
    assert slots[0] == local("America/New_York", 2026, 6, 1, 13).astimezone(UTC)
    assert slots[-1] <= now + timedelta(days=2)
    assert max(s.astimezone(ZoneInfo("America/New_York")).date() for s in slots) == date(2026, 6, 3)


def test_date_exceptions_day_off_hours_off_and_extra_hours():
    now = local("America/New_York", 2026, 6, 1, 0, 0)
    exceptions = [
        Exception_(date(2026, 6, 2), "off"),
        Exception_(date(2026, 6, 3), "off", time(12), time(14)),
        Exception_(date(2026, 6, 6), "extra", time(10), time(12)),
    ]
    slots = free_slots(rules(exceptions=exceptions), HOUR, [], now)
    assert on_day(slots, "America/New_York", date(2026, 6, 2)) == []
    assert on_day(slots, "America/New_York", date(2026, 6, 3)) == [
        time(9),
        time(10),
        time(11),
        time(14),
        time(15),
        time(16),
    ]
    assert on_day(slots, "America/New_York", date(2026, 6, 6)) == [time(10), time(11)]


def test_spring_forward_in_two_zones():
    # New York springs forward on 8 March 2026 (02:00 -> 03:00); Berlin on 29 March 2026.
    for zone, day in (("America/New_York", date(2026, 3, 8)), ("Europe/Berlin", date(2026, 3, 29))):
        every_day = {d: [(time(0), time(6))] for d in range(7)}
        now = local(zone, day.year, day.month, day.day - 1, 12)
        slots = free_slots(rules(time_zone=zone, weekly_hours=every_day), HOUR, [], now)
        that_day = [s for s in slots if s.astimezone(ZoneInfo(zone)).date() == day]
        assert len(that_day) == 5  # six wall-clock hours, one of which does not exist
        assert time(2) not in [s.astimezone(ZoneInfo(zone)).time() for s in that_day]
        assert all(b - a == HOUR for a, b in zip(that_day, that_day[1:], strict=False))


def test_fall_back_in_two_zones():
    # New York falls back on 1 November 2026; Berlin on 25 October 2026 (the 02:00-03:00 hour twice).
    for zone, day, repeated in (
        ("America/New_York", date(2026, 11, 1), time(1)),
        ("Europe/Berlin", date(2026, 10, 25), time(2)),
    ):
        every_day = {d: [(time(0), time(6))] for d in range(7)}
        now = datetime.combine(day - timedelta(days=1), time(12), tzinfo=ZoneInfo(zone))
        slots = free_slots(rules(time_zone=zone, weekly_hours=every_day), HOUR, [], now)
        that_day = [s for s in slots if s.astimezone(ZoneInfo(zone)).date() == day]
        assert len(that_day) == 7  # six wall-clock hours, one of which happens twice
        walls = [s.astimezone(ZoneInfo(zone)).time() for s in that_day]
        assert walls.count(repeated) == 2
        assert len(set(that_day)) == 7 and all(
            b - a == HOUR for a, b in zip(that_day, that_day[1:], strict=False)
        )


def test_a_slot_never_runs_past_the_end_of_a_window():
    now = local("Europe/Berlin", 2026, 6, 1, 0, 0)
    slots = free_slots(
        rules(time_zone="Europe/Berlin", step=timedelta(minutes=30)), timedelta(minutes=50), [], now
    )
    last = on_day(slots, "Europe/Berlin", date(2026, 6, 1))[-1]
    assert last == time(16)
