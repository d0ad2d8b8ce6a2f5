"""The dates a person may enter, in one place. "Today" is the practice's (`practice_today`).

    appointments    five years back to five years ahead: staff booking and moving, the calendar's
                    `?date=`, the requests list's filters, a time posted from the portal
    exceptions      today to the end of that window (a day off, hours off, extra hours)
    birth dates     1900-01-01 to today

Each `…_problem` returns the message to show next to the field, or None. The database backs the
appointment bound: a CHECK keeps every appointment inside what the no-double-booking key can represent
(1970 to 5138, see `blueprints/scheduling/models.py`), far wider than the window here.
"""

from __future__ import annotations

from datetime import date

from tenants.features import practice_today

APPOINTMENT_YEARS_BACK = 5
APPOINTMENT_YEARS_AHEAD = 5
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
BIRTH_DATE_MESSAGE = "Enter a date of birth in the past (1900 or later)."


def years_from(day: date, years: int) -> date:
    """The same day `years` later (or earlier); 29 February becomes the 28th in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def appointment_window(today: date | None = None) -> tuple[date, date]:
    """The first and last day an appointment (or a calendar page) may be on."""
    today = today or practice_today()
    return years_from(today, -APPOINTMENT_YEARS_BACK), years_from(today, APPOINTMENT_YEARS_AHEAD)


def in_appointment_window(day: date, today: date | None = None) -> bool:
    first, last = appointment_window(today)
    return first <= day <= last


def appointment_date_problem(day: date, today: date | None = None) -> str | None:
    first, last = appointment_window(today)
    if not first <= day <= last:
        return f"Choose a date from {first.isoformat()} to {last.isoformat()}."
    return None


def exception_date_problem(day: date, today: date | None = None) -> str | None:
    """An availability exception: from today to the last day an appointment may be on."""
    today = today or practice_today()
    if day < today:
        return "Choose today or a later date."
    _, last = appointment_window(today)
    if day > last:
        return f"Choose a date no later than {last.isoformat()}."
    return None


def birth_date_problem(day: date, today: date | None = None) -> str | None:
    if not EARLIEST_BIRTH_DATE <= day <= (today or practice_today()):
        return BIRTH_DATE_MESSAGE
    return None
