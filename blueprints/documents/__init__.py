"""Documents: client uploads and the documents a practice shares, checked before anyone opens
them, sealed per practice at rest.

The file pipeline is a library here: `files` (check, disarm, scan an upload), `storage` (encrypted,
per-practice objects on disk or S3) and `export` (a practice's files in an encrypted archive). On
top of it: `models` (documents, the library), `operations/<subject>.py` for the rules and
`views/<subject>.py` for the pages; the portal's home lists shared documents not opened yet
(`views/home.py`).
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("documents", __name__))

from blueprints.documents import client_messages, digest, models  # noqa: E402,F401

client_messages.register()
from blueprints.documents.operations import exported  # noqa: E402,F401
from blueprints.documents.views import home, library, portal, staff  # noqa: E402,F401
