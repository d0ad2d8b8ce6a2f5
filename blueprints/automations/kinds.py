"""The automated client messages Portico sends, their switches and their built-in words.

Each kind has an editable template (the practice may rewrite subject and body with merge tags) and a
fixed discreet version: in discreet mode nothing the practice wrote is used, so nothing can name the
practice, its kind of care, a service or a clinician's title by accident.
"""

from __future__ import annotations

from blueprints.notifications.automated import Kind, register_event, register_kind

_LINK = "\n\nYour portal: {{profile_link}}\n"
_SIGN = "\n{{practice_name}}\n"
_WHEN = "Date and time: {{date_time}}\nClinician: {{clinician}}\nService: {{service}}\n"
_DISCREET_BODY = "Hello {{first_name}},\n\n{what}\n\nDate and time: {{date_time}}" + _LINK

KINDS = (
    Kind(
        "booked",
        "Appointment booked",
        "Appointment booked: {{date_time}}",
        "Hello {{first_name}},\n\nYour appointment is booked.\n\n" + _WHEN + _LINK + _SIGN,
        "Appointment confirmed",
        _DISCREET_BODY.format(what="Your appointment is confirmed."),
    ),
    Kind(
        "rescheduled",
        "Appointment rescheduled",
        "Appointment updated: {{date_time}}",
        "Hello {{first_name}},\n\nYour appointment has a new time.\n\n" + _WHEN + _LINK + _SIGN,
        "Appointment updated",
        _DISCREET_BODY.format(what="Your appointment has a new time."),
    ),
    Kind(
        "cancelled",
        "Appointment cancelled",
        "Appointment cancelled: {{date_time}}",
        "Hello {{first_name}},\n\nYour appointment was cancelled.\n\n" + _WHEN + _LINK + _SIGN,
        "Appointment cancelled",
        _DISCREET_BODY.format(what="Your appointment was cancelled."),
    ),
    Kind(
        "reminder",
        "Appointment reminder",
        "Reminder: {{date_time}}",
        "Hello {{first_name}},\n\nThis is a reminder of your appointment.\n\n" + _WHEN + _LINK + _SIGN,
        "Reminder",
        _DISCREET_BODY.format(what="This is a reminder of your appointment."),
    ),
    Kind(
        "request_approved",
        "Request approved",
        "{{practice_name}}: your request was approved",
        "Hello {{first_name}},\n\nYour request was approved.\n\n" + _WHEN + _LINK + _SIGN,
        "Your request",
        _DISCREET_BODY.format(what="Your request was approved."),
    ),
    Kind(
        "request_declined",
        "Request declined",
        "{{practice_name}}: your request was declined",
        "Hello {{first_name}},\n\nYour request was declined.\n\nRequested time: {{date_time}}"
        + _LINK
        + _SIGN,
        "Your request",
        _DISCREET_BODY.format(what="Your request was declined."),
    ),
    Kind(
        "cancellation_followup",
        "Invitation to rebook",
        "Book your next appointment with {{practice_name}}",
        "Hello {{first_name}},\n\nWe have not seen a new booking since your appointment was cancelled. "
        "When you are ready, you can book a new time in your portal." + _LINK + _SIGN,
        "Book your next appointment",
        "Hello {{first_name}},\n\nWhen you are ready, you can book a new time." + _LINK,
        about_appointment=False,
    ),
    Kind(
        "new_message",
        "New message from the practice",
        "You have a new message from {{practice_name}}",
        "Hello {{first_name}},\n\nYou have a new message from {{practice_name}} in your client portal.\n"
        "For your privacy, this email does not contain the message." + _LINK,
        "You have a new message",
        "Hello {{first_name}},\n\nYou have a new message waiting. "
        "For your privacy, this email does not contain it." + _LINK,
        about_appointment=False,
    ),
)

EVENTS = (
    ("booked_by_client", "booked", "Booked by the client"),
    ("booked_by_staff", "booked", "Booked by staff"),
    ("rescheduled_by_client", "rescheduled", "Rescheduled by the client"),
    ("rescheduled_by_staff", "rescheduled", "Rescheduled by staff"),
    ("cancelled_by_client", "cancelled", "Cancelled by the client"),
    ("cancelled_by_staff", "cancelled", "Cancelled by staff"),
    ("request_approved", "request_approved", "A request approved"),
    ("request_declined", "request_declined", "A request declined (when staff choose to notify)"),
    ("reminder", "reminder", "Reminders"),
    ("cancellation_followup", "cancellation_followup", "Follow-up after a cancellation"),
    ("new_message", "new_message", "A new message from the practice"),
)


def register_all() -> None:
    for kind in KINDS:
        register_kind(kind)
    for key, kind, label in EVENTS:
        register_event(key, kind, label, default_on=key != "cancellation_followup")
