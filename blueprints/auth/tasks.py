"""Jobs of the auth feature."""

from app.jobs import practice_task
from blueprints.auth.service import PASSWORD_RESET_TASK, send_password_reset
from tenants.database import db


@practice_task(PASSWORD_RESET_TASK)
def password_reset(request_id: str, email_sealed: str) -> None:
    """Whether to send a reset link for the address a visitor typed (see `request_password_reset`)."""
    send_password_reset(request_id, email_sealed)
    db.session.commit()
