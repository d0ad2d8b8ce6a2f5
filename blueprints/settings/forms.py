"""Forms of practice settings and "Preview as client".

The forms only turn text into values; which values are acceptable is `settings.service`'s rule.
"""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Email, InputRequired, Length, Optional

from app.money import currency_choices
from app.web import single_line
from blueprints.settings.service import ASKED_INFORMATION, NUMBERS, TOGGLES

NUMBER_LABELS = {
    "cancellation_window_hours": "Cancellation window (hours before the appointment)",
    "profile_link_days": "Profile links stay valid for (days)",
    "age_of_majority": "Age of majority",
    "teen_age": "Teen age (guardians stop seeing a minor's own messages from this age)",
    "max_upload_mb": "Largest file a client may upload (MB)",
    "client_storage_mb": "Uploads per client at most (MB, all files together)",
    "waitlist_offer_count": "A freed time is offered to this many people at once",
    "waitlist_hold_minutes": "It is held for them for (minutes)",
}


class SettingsForm(FlaskForm):
    name = StringField("Practice name", validators=[InputRequired(), Length(max=200), single_line])
    time_zone = StringField("Time zone", validators=[InputRequired(), Length(max=64)])
    # Any value parses; the rule (settings.service) refuses what is not on the list, by name.
    currency = SelectField(
        "Currency",
        choices=currency_choices,
        validate_choice=False,
        description="Prices are in this currency. Changing it does not convert prices already entered.",
    )
    contact_email = EmailField("Contact email", validators=[Optional(), Email(), Length(max=254)])
    cancellation_policy = TextAreaField(
        "Cancellation policy (shown to clients who can no longer cancel online)",
        validators=[Optional(), Length(max=1000)],
    )
    require_staff_mfa = BooleanField("Require two-factor authentication for all staff")

    NUMBER_FIELDS = tuple(NUMBERS)
    TOGGLE_FIELDS = tuple(TOGGLES)
    ASKED_FIELDS = tuple(ASKED_INFORMATION)

    def values(self) -> dict:
        return {
            name: field.data for name, field in self._fields.items() if name not in ("csrf_token", "submit")
        }


for _column, _label in TOGGLES.items():
    setattr(SettingsForm, _column, BooleanField(_label))
for _column, _label in ASKED_INFORMATION.items():
    setattr(SettingsForm, _column, BooleanField(_label))
for _column in NUMBERS:
    setattr(
        SettingsForm,
        _column,
        IntegerField(NUMBER_LABELS[_column], validators=[InputRequired("Enter a whole number.")]),
    )


class PreviewForm(FlaskForm):
    client_id = SelectField("Test client", coerce=int, validate_choice=False)


class CreateTestClientForm(FlaskForm):
    pass
