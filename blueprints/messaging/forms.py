"""Forms of messaging: a client's or guardian's message, and a staff reply with its thread."""

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from blueprints.messaging.service import MAX_BODY

BODY_VALIDATORS = [
    DataRequired("Write a message first."),
    Length(max=MAX_BODY, message=f"A message can have at most {MAX_BODY} characters."),
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class MessageForm(FlaskForm):
    body = TextAreaField("Message", validators=BODY_VALIDATORS, filters=[_strip])


class StaffReplyForm(FlaskForm):
    thread = SelectField("Conversation", choices=[])
    body = TextAreaField("Reply", validators=BODY_VALIDATORS, filters=[_strip])
