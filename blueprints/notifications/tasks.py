"""Jobs of the notifications feature."""

from app.jobs import Backoff, practice_task
from blueprints.notifications.service import MAIL_TRIES, SEND_EMAIL_TASK, deliver_outbox_email, give_up


@practice_task(
    SEND_EMAIL_TASK,
    retry=lambda settings: Backoff(base_seconds=settings.mail_retry_base_seconds, tries=MAIL_TRIES),
    on_give_up=give_up,
)
def send_email(email_id: int) -> None:
    deliver_outbox_email(email_id)
