"""Forms of documents: an upload (a file and an optional note), sharing a library item, actions."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import Length, Optional

from blueprints.documents.operations.uploads import MAX_NOTE

ACCEPT = ".pdf,.png,.jpg,.jpeg,.heic,.docx,.txt"
FILE_HELP = "PDF, PNG, JPEG, HEIC, Word (.docx) or plain text."


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class UploadForm(FlaskForm):
    file = FileField("File", validators=[FileRequired("Choose a file to upload.")], description=FILE_HELP)
    note = TextAreaField(
        "Note for the practice (optional)",
        validators=[
            Optional(),
            Length(max=MAX_NOTE, message=f"A note can have at most {MAX_NOTE} characters."),
        ],
        filters=[_strip],
    )


class StaffFileForm(FlaskForm):
    file = FileField(
        "File to share", validators=[FileRequired("Choose a file to share.")], description=FILE_HELP
    )


class LibraryFileForm(FlaskForm):
    file = FileField(
        "File for the library", validators=[FileRequired("Choose a file.")], description=FILE_HELP
    )


class ShareLibraryItemForm(FlaskForm):
    """From a client's Documents tab: one library item for this client."""

    item_id = SelectField("Document from the library", coerce=int, validate_choice=False)


class ShareWithClientsForm(FlaskForm):
    """From the library: one item for several clients, or for all of them."""

    client_ids = SelectMultipleField("Clients", coerce=int, validate_choice=False)
    everyone = BooleanField("All my active clients")


class ActionForm(FlaskForm):
    pass
