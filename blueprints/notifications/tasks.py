"""Jobs of the notifications feature."""

from app.jobs import practice_task
from blueprints.notifications.service import SEND_EMAIL_TASK, deliver_outbox_email


@practice_task(SEND_EMAIL_TASK)
def send_email(email_id: int) -> None:
    deliver_outbox_email(email_id)
