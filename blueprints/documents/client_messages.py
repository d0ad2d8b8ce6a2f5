"""The automated client message "a document shared": its kind, switch and sender, registered with
`notifications.automated` (the documents feature owns the change that causes it).

The message never names the document: it says there is one to see, and carries the reader's own
link (a minor's guardians are told only when their grant covers documents)."""

from __future__ import annotations

from blueprints.automations.senders import client_sender
from blueprints.notifications.automated import (
    Kind,
    notify_client,
    register_event,
    register_kind,
    register_sender,
)

DOCUMENT_SHARED = "document_shared"

KIND = Kind(
    DOCUMENT_SHARED,
    "A document shared",
    "{{practice_name}} shared a document with you",
    "Hello {{first_name}},\n\n{{practice_name}} shared a document with you in your client portal.\n"
    "For your privacy, this email does not name it.\n\nYour portal: {{profile_link}}\n",
    "You have a new document",
    "Hello {{first_name}},\n\nA document is waiting for you. "
    "For your privacy, this email does not name it.\n\nYour portal: {{profile_link}}\n",
    about_appointment=False,
    held_per_client=True,
)


def document_shared(client_id: int) -> None:
    """Staff shared a document with the client: tell their side (held, one message for several)."""
    notify_client(DOCUMENT_SHARED, client_id)


def register() -> None:
    register_kind(KIND)
    register_event(DOCUMENT_SHARED, DOCUMENT_SHARED, "A document shared")
    register_sender(DOCUMENT_SHARED, client_sender("documents"))
