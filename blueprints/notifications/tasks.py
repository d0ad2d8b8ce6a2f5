"""Jobs of the notifications feature."""

import procrastinate

from app.jobs import practice_task
from blueprints.notifications.service import SEND_EMAIL_TASK, deliver_outbox_email

tasks = procrastinate.Blueprint()


@practice_task(tasks, SEND_EMAIL_TASK)
def send_email(email_id: int) -> None:
    deliver_outbox_email(email_id)
