"""Forms of the practice home."""

from flask_wtf import FlaskForm


class GetStartedForm(FlaskForm):
    pass
