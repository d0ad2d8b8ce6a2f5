"""Forms of the client side of scheduling."""

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField
from wtforms.validators import Length, Optional


class SlotForm(FlaskForm):
    """A picked slot (or, on the cancel page, just the CSRF token)."""

    service_id = IntegerField()
    clinician_id = IntegerField()
    starts_at = HiddenField()


class SeriesForm(FlaskForm):
    """The repeat of a time picked in the portal (posted with a `SlotForm`, which checks the CSRF
    token): every 1-4 weeks, N times or until a date, and the dates shown as conflicts (`skip`)."""

    class Meta:
        csrf = False

    repeat = IntegerField("Repeat", validators=[Optional()])
    repeat_count = IntegerField("How many times", validators=[Optional()])
    repeat_until = DateField("Or until (last date)", validators=[Optional()])
    skip = HiddenField(validators=[Optional(), Length(max=400)])
