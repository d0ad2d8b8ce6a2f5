"""Forms of the client portal."""

from flask_wtf import FlaskForm


class OpenRecordForm(FlaskForm):
    pass
