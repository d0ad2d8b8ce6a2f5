"""Forms of the practice's look. They only carry the values: `branding.service` says what is
acceptable (a logo's format and size, a colour's contrast)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import Length


class LogoForm(FlaskForm):
    logo = FileField(
        "Image file",
        validators=[FileRequired("Choose an image file to upload.")],
        description="A PNG or JPEG image of at most 1 MB. It is shown at most 128 pixels high.",
    )


class AccentForm(FlaskForm):
    accent = StringField(
        "Colour code",
        validators=[Length(max=20, message="Enter the colour as # and six hex digits, like #1f5f8b.")],
        description="# and six hex digits, like #1f5f8b. Buttons and links use it.",
    )


class ActionForm(FlaskForm):
    """A button that posts (remove the logo, go back to the default colour)."""
