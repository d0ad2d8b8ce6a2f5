"""What the waitlist's portal and staff pages share: the join form's choices, an entry in words."""

from __future__ import annotations

from app.timefmt import local_time
from blueprints.scheduling.forms import choices
from blueprints.scheduling.operations.availability import WEEKDAYS
from blueprints.waitlist.forms import ANY
from blueprints.waitlist.models import ALL_DAYS, PARTS, WaitlistEntry
from tenants.features import practice_zone


def fill_join_choices(form, services, clinicians, upcoming, zone_name=None) -> None:
    form.service_id.choices = choices([("", "Choose a service")] + [(s.id, s.name) for s in services])
    form.clinician_id.choices = choices([(ANY, "Any clinician")] + [(c.id, c.name) for c in clinicians])
    zone = practice_zone(zone_name)
    form.move_appointment_id.choices = choices(
        [("", "No, this is a new appointment")]
        + [(a.id, f"{local_time(a.starts_at, zone, 'long')} with {a.clinician.name}") for a in upcoming]
    )


def entry_labels(entry: WaitlistEntry) -> dict[str, str]:
    """The entry in words: days, parts of day, dates, clinician."""
    days = (
        "Any day"
        if entry.weekdays == ALL_DAYS
        else ", ".join(name[:3] for day, name in enumerate(WEEKDAYS) if entry.weekdays & (1 << day))
    )
    parts = ", ".join(name for name, (bit, _, _) in PARTS.items() if entry.parts & bit)
    return {
        "days": days,
        "parts": parts,
        "dates": f"{entry.from_date:%d %b %Y} – {entry.until_date:%d %b %Y}",
        "clinician": entry.clinician.name if entry.clinician else "Any clinician",
    }
