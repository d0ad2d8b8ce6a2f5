"""Forms of the staff side of scheduling.

The forms only turn text into values (numbers, dates, times); which values are acceptable is the
operations' rule, so a form that parses can still come back with a rule's message.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from blueprints.scheduling.models import DELIVERIES
from blueprints.scheduling.operations.availability import EXCEPTION_KINDS, WEEKDAYS
from blueprints.scheduling.operations.requests import REQUEST_KINDS, REQUEST_STATUSES

DURATION_HELP = "Leave empty for the service's usual length."
REPEAT_CHOICES = [
    (0, "Does not repeat"),
    (1, "Every week"),
    (2, "Every 2 weeks"),
    (3, "Every 3 weeks"),
    (4, "Every 4 weeks"),
]
REPEAT_HELP = "For a series: the number of dates, or leave empty and give the last date."
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class ServiceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the service a name."), Length(max=200)])
    duration_minutes = IntegerField(
        "Length (minutes)", validators=[InputRequired("Enter the length in minutes.")]
    )
    service_code = StringField("Service code", validators=[Optional(), Length(max=20)])
    price = StringField("Price", validators=[Optional(), Length(max=20)])  # label and help: the currency
    bookable_online = BooleanField("Clients may book it online")
    series_bookable = BooleanField(
        "Clients may book it as a recurring series",
        description="Only when the practice's settings let clients book series.",
    )
    delivery = SelectField(
        "Where it takes place",
        choices=[SelectChoice(key, label) for key, label in DELIVERIES.items()],
        default="in_person",
        description="Invites of online sessions carry the room link; in-person ones the practice's address.",
    )
    is_active = BooleanField("Active (offered)", default=True)
    clinician_ids = SelectMultipleField("Offered by", coerce=int, validate_choice=False)

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "duration_minutes": self.duration_minutes.data,
            "service_code": self.service_code.data,
            "price": self.price.data,
            "bookable_online": self.bookable_online.data,
            "series_bookable": self.series_bookable.data,
            "delivery": self.delivery.data,
            "is_active": self.is_active.data,
            "clinician_ids": self.clinician_ids.data or [],
        }


class WeeklyRangeForm(FlaskForm):
    """One range of hours for one or several days (a checkbox per day). The time fields have ids of
    their own: the date-exception form on the same page has `start` and `end` fields too."""

    weekday = SelectMultipleField(
        "Days",
        choices=choices(enumerate(WEEKDAYS)),
        coerce=int,
        validate_choice=False,  # the rule says which days exist, with its own message
        validators=[InputRequired("Choose at least one day.")],
    )
    start = TimeField(
        "From", id="hours-start", format=TIME_FORMATS, validators=[InputRequired("Enter the start time.")]
    )
    end = TimeField(
        "Until", id="hours-end", format=TIME_FORMATS, validators=[InputRequired("Enter the end time.")]
    )


class ExceptionForm(FlaskForm):
    on_date = DateField(
        "Date", validators=[InputRequired("Enter the date.")], render_kw={"max": "9999-12-31"}
    )
    kind = SelectField("What", choices=choices(EXCEPTION_KINDS.items()), default="day_off")
    start = TimeField("From", format=TIME_FORMATS, validators=[Optional()])
    end = TimeField("Until", format=TIME_FORMATS, validators=[Optional()])


SCHEDULE_LABELS = {
    "buffer_before_minutes": "Buffer before (minutes)",
    "buffer_after_minutes": "Buffer after (minutes)",
    "min_notice_hours": "Minimum notice (hours)",
    "horizon_days": "Clients may book up to (days ahead)",
}


class PracticeDefaultsForm(FlaskForm):
    buffer_before_minutes = IntegerField(
        SCHEDULE_LABELS["buffer_before_minutes"], validators=[InputRequired("Enter a whole number.")]
    )
    buffer_after_minutes = IntegerField(
        SCHEDULE_LABELS["buffer_after_minutes"], validators=[InputRequired("Enter a whole number.")]
    )
    min_notice_hours = IntegerField(
        SCHEDULE_LABELS["min_notice_hours"], validators=[InputRequired("Enter a whole number.")]
    )
    horizon_days = IntegerField(
        SCHEDULE_LABELS["horizon_days"], validators=[InputRequired("Enter a whole number.")]
    )

    def values(self) -> dict:
        return {name: self[name].data for name in SCHEDULE_LABELS}


class ClinicianScheduleForm(FlaskForm):
    uses_own_hours = BooleanField("Use my own weekly hours instead of the practice's")
    buffer_before_minutes = IntegerField(SCHEDULE_LABELS["buffer_before_minutes"], validators=[Optional()])
    buffer_after_minutes = IntegerField(SCHEDULE_LABELS["buffer_after_minutes"], validators=[Optional()])
    min_notice_hours = IntegerField(SCHEDULE_LABELS["min_notice_hours"], validators=[Optional()])
    horizon_days = IntegerField(SCHEDULE_LABELS["horizon_days"], validators=[Optional()])

    def values(self) -> dict:
        return {name: self[name].data for name in SCHEDULE_LABELS}


class AppointmentForm(FlaskForm):
    # Ids are checked by the view (a client this person may not see is a 404, like any other id).
    client_id = SelectField("Client", coerce=int, validate_choice=False)
    clinician_id = SelectField("Clinician", coerce=int, validate_choice=False)
    service_id = SelectField("Service", coerce=int, validate_choice=False)
    on_date = DateField(
        "Date", validators=[InputRequired("Enter the date.")], render_kw={"max": "9999-12-31"}
    )
    at_time = TimeField("Time", format=TIME_FORMATS, validators=[InputRequired("Enter the time.")])
    duration_minutes = IntegerField("Length (minutes)", validators=[Optional()], description=DURATION_HELP)
    alert = TextAreaField("Alert for staff", validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})
    # A recurring series (0: a single appointment); see operations.series.
    repeat = SelectField(
        "Repeat", coerce=int, default=0, choices=choices(REPEAT_CHOICES), validate_choice=False
    )
    repeat_count = IntegerField("How many times", validators=[Optional()], description=REPEAT_HELP)
    repeat_until = DateField("Or until (last date)", validators=[Optional()], render_kw={"max": "9999-12-31"})
    # The conflicting dates the person saw and chose to leave out (indexes, comma-separated).
    skip = HiddenField(id=False, validators=[Optional(), Length(max=400)])


class MoveForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    on_date = DateField(
        "New date", validators=[InputRequired("Enter the date.")], render_kw={"max": "9999-12-31"}
    )
    at_time = TimeField("New time", format=TIME_FORMATS, validators=[InputRequired("Enter the time.")])
    duration_minutes = IntegerField(
        "New length (minutes)", validators=[Optional()], description="Leave empty to keep the length."
    )


class CancelForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])


class ApproveForm(FlaskForm):
    service_id = SelectField("Service", coerce=int, validate_choice=False)
    service_code = StringField(
        "Service code",
        validators=[Optional(), Length(max=20)],
        description="Leave empty to use the service's code.",
    )
    duration_minutes = IntegerField("Length (minutes)", validators=[Optional()], description=DURATION_HELP)
    alert = TextAreaField("Alert for staff", validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})


class DeclineForm(FlaskForm):
    notify = BooleanField("Notify the client")
    message = TextAreaField(
        "Message to the client", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3}
    )


class RequestFilterForm(FlaskForm):
    """The filters of the requests list (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=choices([(status, status.title()) for status in REQUEST_STATUSES] + [("all", "All")]),
        default="pending",
    )
    kind = SelectField("Type", choices=choices([("all", "All types"), *REQUEST_KINDS.items()]), default="all")
    clinician = SelectField("Clinician", validate_choice=False, default="")
    date_from = DateField("Requested from", validators=[Optional()], render_kw={"max": "9999-12-31"})
    date_to = DateField("until", validators=[Optional()], render_kw={"max": "9999-12-31"})


class GroupForm(FlaskForm):
    """Add a client to an appointment (it becomes a group appointment)."""

    client_id = IntegerField("Client", validators=[DataRequired(), NumberRange(min=1, max=2**63 - 1)])
