"""Forms of profile links: the confirmation button, "email me a new link", staff actions, step-up."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp


class ContinueForm(FlaskForm):
    """The button on the confirmation page; the POST is what signs in."""


class NewLinkForm(FlaskForm):
    email = EmailField(
        "Your email address",
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter a valid email address."),
            Length(max=254),
        ],
    )


class StaffLinkForm(FlaskForm):
    """Send, revoke one, revoke all: a CSRF-protected button each."""


class StepUpPasswordForm(FlaskForm):
    next = HiddenField()
    method = HiddenField(default="password")
    password = PasswordField(
        "Your portal password", validators=[DataRequired("Enter your password."), Length(max=512)]
    )


class SendCodeForm(FlaskForm):
    next = HiddenField()


class StepUpCodeForm(FlaskForm):
    next = HiddenField()
    method = HiddenField(default="code")
    code = StringField(
        "Six-digit code",
        validators=[
            DataRequired("Enter the code from the email."),
            Regexp(r"^\s*[0-9]{6}\s*$", message="The code has six digits."),
        ],
    )
