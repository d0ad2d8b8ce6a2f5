"""Forms of the audit log page: the filters (sent as query parameters, so they carry no CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional


def _optional_int(value):
    if value in (None, ""):
        return None
    return int(value)


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    person = SelectField("Person", coerce=_optional_int, validate_choice=False)
    client = IntegerField(
        "Client number", validators=[Optional(), NumberRange(min=1, message="Enter a client number.")]
    )
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, message="No such page.")])
