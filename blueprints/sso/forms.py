"""Forms of staff single sign-on: the owner's provider settings, and removing the provider.

The forms only turn text into values; whether the provider can be used is `sso.service`'s rule.
"""

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, URLField
from wtforms.validators import InputRequired, Length, Optional

from app.web import single_line


class ProviderForm(FlaskForm):
    display_name = StringField(
        "Provider name (on the button: “Sign in with …”)",
        validators=[InputRequired(), Length(max=60), single_line],
    )
    issuer = URLField(
        "Issuer URL",
        description="For example https://accounts.google.com, or "
        "https://login.microsoftonline.com/TENANT-ID/v2.0 for Microsoft Entra.",
        validators=[InputRequired(), Length(max=500), single_line],
    )
    client_id = StringField("Client ID", validators=[InputRequired(), Length(max=500), single_line])
    # Write-only: never rendered back (PasswordField leaves its value out of the page).
    client_secret = PasswordField("Client secret", validators=[Optional(), Length(max=2000)])
    required_for_staff = BooleanField("Staff must sign in with this provider (staff passwords stop working)")

    def values(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}


class RemoveProviderForm(FlaskForm):
    pass
