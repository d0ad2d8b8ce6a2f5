"""The waitlist's forms: joining (the portal's and the staff's), the staff's order, answering an
offer. They only turn text into values; `operations` says which values fit."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, SelectMultipleField
from wtforms.validators import Optional

from blueprints.scheduling.forms import choices
from blueprints.scheduling.operations.availability import WEEKDAYS
from blueprints.waitlist.models import PARTS

ANY = 0  # the clinician choice "any clinician I may book with"


def _optional_int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class JoinForm(FlaskForm):
    service_id = SelectField("Service", coerce=_optional_int, validate_choice=False)
    clinician_id = SelectField("Clinician", coerce=_optional_int, validate_choice=False)
    weekdays = SelectMultipleField(
        "Days that suit", choices=choices(enumerate(WEEKDAYS)), coerce=int, validate_choice=False
    )
    parts = SelectMultipleField(
        "Parts of the day", choices=choices((name, name.title()) for name in PARTS), validate_choice=False
    )
    from_date = DateField("From", validators=[Optional()])
    until_date = DateField("Until", validators=[Optional()])
    move_appointment_id = SelectField(
        "Move an appointment I already have earlier (optional)", coerce=_optional_int, validate_choice=False
    )


class StaffJoinForm(JoinForm):
    client_id = SelectField("Client", coerce=_optional_int, validate_choice=False)


class PriorityForm(FlaskForm):
    priority = IntegerField("Order", validators=[Optional()])


class ActionForm(FlaskForm):
    """A button alone (leave, remove, decline): its CSRF token is all it carries."""

    answer = HiddenField()
