"""The automated client message "forms to complete": its kind, switch and sender, registered with
`notifications.automated` (onboarding owns the change that causes it: staff sending a form).

The message never names a form or an assessment: it says there is something to fill in, and carries
the reader's own link (a minor's guardians are told only when their grant covers forms)."""

from __future__ import annotations

from blueprints.automations.senders import client_sender
from blueprints.notifications.automated import (
    Kind,
    notify_client,
    register_event,
    register_kind,
    register_sender,
)

FORMS_TO_COMPLETE = "forms_to_complete"

KIND = Kind(
    FORMS_TO_COMPLETE,
    "Forms to complete",
    "{{practice_name}}: forms to complete",
    "Hello {{first_name}},\n\n{{practice_name}} asked you to fill in forms in your client portal.\n"
    "For your privacy, this email does not name them.\n\nYour portal: {{profile_link}}\n",
    "Something to complete",
    "Hello {{first_name}},\n\nThere is something for you to complete. "
    "For your privacy, this email does not say what.\n\nYour portal: {{profile_link}}\n",
    about_appointment=False,
    held_per_client=True,
)


def forms_to_complete(client_id: int) -> None:
    """Staff sent the client a form: tell their side (held, one message for several forms)."""
    notify_client(FORMS_TO_COMPLETE, client_id)


def register() -> None:
    register_kind(KIND)
    register_event(FORMS_TO_COMPLETE, FORMS_TO_COMPLETE, "Forms to complete")
    register_sender(FORMS_TO_COMPLETE, client_sender("forms"))
