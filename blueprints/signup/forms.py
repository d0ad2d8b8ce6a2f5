"""The signup form. Field names are part of the contract: practice_name, owner_name, email,
password, subdomain."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, Email, Length

from app.web import single_line
from blueprints.auth.service import MIN_PASSWORD_LENGTH, PASSWORD_LENGTH_MESSAGE
from tenants.addresses import MAX_LENGTH, normalize_subdomain
from tenants.registry import address_available


class SignupForm(FlaskForm):
    practice_name = StringField(
        "Practice name", validators=[DataRequired(), Length(min=2, max=200), single_line]
    )
    owner_name = StringField("Your name", validators=[DataRequired(), Length(min=1, max=200)])
    email = EmailField("Your email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, max=512, message=PASSWORD_LENGTH_MESSAGE),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    subdomain = StringField(
        "Portal address",
        validators=[DataRequired(), Length(max=MAX_LENGTH + 20)],
        filters=[normalize_subdomain],
    )

    def validate_subdomain(self, field):
        problem = address_available(field.data)
        if problem:
            raise ValidationError(problem)


class FindPracticeForm(FlaskForm):
    """ "Find my practice" on the apex page: a GET form (it changes nothing, so no CSRF token)."""

    class Meta:
        csrf = False

    address = StringField(
        "Your practice's portal address",
        validators=[DataRequired("Enter your practice's portal address."), Length(max=300)],
        description="As in the emails from your practice, for example yourpractice or a full web address.",
    )
