"""Forms of the auth feature."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from blueprints.auth.service import MIN_PASSWORD_LENGTH, PASSWORD_LENGTH_MESSAGE


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=512)])
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])


def new_password_fields(label: str = "New password") -> tuple[PasswordField, PasswordField]:
    """A password field and its confirmation, with the practice's password rule."""
    password = PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, max=512, message=PASSWORD_LENGTH_MESSAGE),
        ],
    )
    confirm = PasswordField(
        "Repeat the " + label.lower().replace("choose a ", ""),
        validators=[DataRequired(), EqualTo("password", "The passwords differ.")],
    )
    return password, confirm


class ResetPasswordForm(FlaskForm):
    password, confirm = new_password_fields("New password")


class LogoutForm(FlaskForm):
    pass


class VerifyCodeForm(FlaskForm):
    code = StringField(
        "Six-digit code from your authenticator app, or a recovery code",
        validators=[DataRequired("Enter the code."), Length(max=64)],
    )


class StartTotpForm(FlaskForm):
    pass


class EnableTotpForm(FlaskForm):
    code = StringField(
        "Six-digit code shown by the app", validators=[DataRequired("Enter the code."), Length(max=64)]
    )


class DisableTotpForm(FlaskForm):
    code = StringField("A current six-digit code", validators=[Optional(), Length(max=64)])
    password = PasswordField("…or your password", validators=[Optional(), Length(max=512)])


class RecoveryCodesForm(FlaskForm):
    pass
