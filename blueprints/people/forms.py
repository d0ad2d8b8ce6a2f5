"""Forms of the people feature: staff invites and roles, client records, guardians, activation."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from app.dates import birth_date_problem
from app.roles import STAFF_ROLES
from blueprints.auth.forms import new_password_fields
from blueprints.people.operations.clients import CLIENT_SECTIONS, asked_fields, time_zone_problem
from blueprints.people.operations.staff import ROLE_LABELS

PHONE = Regexp(r"^[0-9+().\-\s]*$", message="Use digits, spaces and + ( ) - only.")
EMAIL_MESSAGE = "Enter a valid email address."


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class ActivateForm(FlaskForm):
    password, confirm = new_password_fields("Choose a password")


def role_choices(roles=STAFF_ROLES) -> list[SelectChoice]:
    return [SelectChoice(role, ROLE_LABELS[role]) for role in roles]


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class InviteStaffForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the person's name."), Length(max=200)])
    email = EmailField(
        "Email", validators=[DataRequired("Enter an email address."), Email(EMAIL_MESSAGE), Length(max=254)]
    )
    # Which roles the person inviting may give is a rule (operations.staff.roles_for), with its own message.
    role = SelectField("Role", choices=role_choices(), default="clinician", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=role_choices(), validate_choice=False)


def _birth_date(form, field):
    problem = birth_date_problem(field.data) if field.data is not None else None
    if problem:
        raise ValidationError(problem)


def _time_zone(form, field):
    problem = time_zone_problem((field.data or "").strip())
    if problem:
        raise ValidationError(problem)


class ClientForm(FlaskForm):
    first_name = StringField(
        "First name", validators=[DataRequired("Enter the first name."), Length(max=100)]
    )
    last_name = StringField("Last name", validators=[DataRequired("Enter the last name."), Length(max=100)])
    preferred_name = StringField("Preferred name", validators=[Optional(), Length(max=100)])
    date_of_birth = DateField(
        "Date of birth",
        validators=[Optional(), _birth_date],
        render_kw={"max": "9999-12-31"},
    )
    email = EmailField("Email", validators=[Optional(), Email(EMAIL_MESSAGE), Length(max=254)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40), PHONE])
    address = TextAreaField("Address", validators=[Optional(), Length(max=1000)], render_kw={"rows": 3})
    time_zone = StringField(
        "Time zone",
        validators=[Optional(), Length(max=64), _time_zone],
        description="Leave empty to use the practice's time zone.",
    )
    emergency_contact_name = StringField("Emergency contact", validators=[Optional(), Length(max=200)])
    emergency_contact_phone = StringField(
        "Emergency contact phone", validators=[Optional(), Length(max=40), PHONE]
    )
    insurance_provider = StringField("Insurance provider", validators=[Optional(), Length(max=200)])
    insurance_member_id = StringField("Insurance member ID", validators=[Optional(), Length(max=100)])
    discreet_messages = BooleanField(
        "Send this client's automated messages discreetly",
        description="A neutral sender name and subject, no service or clinician, no calendar "
        "attachments: for a client for whom an email about their care is itself a risk.",
    )

    def asked_data(self) -> dict:
        """The values of the fields this form shows (the practice's asked sections, and the
        discreet-messages choice, always shown)."""
        data = {name: self[name].data for name in self._asked}
        data["discreet_messages"] = bool(self.discreet_messages.data)
        return data


def client_form(settings, **kwargs) -> ClientForm:
    """A client form with only the sections the practice asks for (the name always)."""
    form = ClientForm(**kwargs)
    asked = asked_fields(settings)
    for name in [name for names in CLIENT_SECTIONS.values() for name in names]:
        if name not in asked:
            del form[name]
    form._asked = asked
    return form


class AssignForm(FlaskForm):
    user_id = SelectField("Assign", coerce=int, validate_choice=False)


class TestClientForm(FlaskForm):
    is_test = HiddenField()


MINOR_MESSAGE_LABELS = {
    "default": "Practice default (only while the minor is under the teen age)",
    "allow": "Yes, always",
    "deny": "No, never",
}


class GuardianPermissionsForm(FlaskForm):
    # Only permissions for features that exist (people.operations.guardians.OFFERED_PERMISSIONS).
    can_appointments = BooleanField("See and manage appointments", default=True)
    can_forms = BooleanField("Complete forms", default=True)
    can_documents = BooleanField("See shared documents and upload", default=True)
    can_messages = BooleanField("Message the practice on the minor's behalf", default=True)
    can_billing = BooleanField("See and pay the minor's invoices", default=False)
    minor_messages = SelectField(
        "See the minor's own messages", choices=choices(MINOR_MESSAGE_LABELS.items()), default="default"
    )
    can_see_minor_uploads = BooleanField("See the files the minor uploads themselves", default=False)

    def permissions(self) -> dict:
        names = (
            "can_appointments",
            "can_forms",
            "can_documents",
            "can_messages",
            "can_billing",
            "can_see_minor_uploads",
        )
        return {name: self[name].data for name in names} | {"minor_messages": self.minor_messages.data}


class GuardianForm(GuardianPermissionsForm):
    name = StringField(
        "Guardian's name", validators=[DataRequired("Enter the guardian's name."), Length(max=200)]
    )
    email = EmailField(
        "Guardian's email",
        validators=[
            DataRequired("Enter the guardian's email address."),
            Email(EMAIL_MESSAGE),
            Length(max=254),
        ],
    )
