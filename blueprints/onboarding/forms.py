"""Forms of onboarding pages. They only carry text (and the CSRF token); the rules that accept or
refuse a value are in `operations`. A client's answers are read from the post by the form's own
items (`operations.items.read_answers`), not by a WTForms class."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional


class ImportForm(FlaskForm):
    file = FileField("Questionnaire JSON file")
    text = TextAreaField("Or paste the Questionnaire JSON", validators=[Optional()])


class ShareForm(FlaskForm):
    form_id = SelectField("Form", coerce=int, validate_choice=False)


class ScheduleForm(FlaskForm):
    form_id = SelectField("Assessment", coerce=int, validate_choice=False)
    cadence = SelectField(
        "Due",
        choices=[
            SelectChoice("every", "Before every appointment"),
            SelectChoice("every_other", "Before every other appointment"),
            SelectChoice("", "Not scheduled"),
        ],
        validate_choice=False,
    )


class AcknowledgeForm(FlaskForm):
    note = TextAreaField("What was done", validators=[Optional()])


class CrisisForm(FlaskForm):
    crisis_resources = TextAreaField("Crisis resources shown to clients", validators=[Optional()])


class BuilderForm(FlaskForm):
    """The builder page's CSRF token; its rows are read by `operations.builder.rows_from_post`."""


class DisclosureForm(FlaskForm):
    confirm = BooleanField(
        "I opened the disclosure (PDF), I can read it, and I agree to receive records and sign electronically"
    )
