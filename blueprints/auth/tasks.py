"""Jobs of the auth feature."""

from app.jobs import practice_task
from blueprints.auth.service import PASSWORD_RESET_TASK, send_password_reset


@practice_task(PASSWORD_RESET_TASK)
def password_reset(request_id: str, email_sealed: str) -> None:
    send_password_reset(request_id, email_sealed)
