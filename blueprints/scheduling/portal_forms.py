"""Forms of the client side of scheduling."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField


class SlotForm(FlaskForm):
    """A picked slot (or, on the cancel page, just the CSRF token)."""

    service_id = IntegerField()
    clinician_id = IntegerField()
    starts_at = HiddenField()
