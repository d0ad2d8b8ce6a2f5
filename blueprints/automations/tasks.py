"""Jobs of automated messages: a held notice when its hold ends, and each practice's periodic work
(deferred by the platform's fan-out, `app.jobs.run_when_due`, when the practice's next due time came)."""

from datetime import UTC, datetime

from app.jobs import Backoff, practice_task, run_when_due
from blueprints.automations.reminders import LEFTOVERS_TASK, deliver_leftovers, run_periodic
from blueprints.automations.sms import SEND_SMS_TASK, SMS_TRIES, deliver_sms
from blueprints.notifications.automated import SEND_NOTICE_TASK, deliver_notice
from tenants.addresses import practice_url
from tenants.context import current_practice

PERIODIC_TASK = "automations.periodic"


@practice_task(SEND_NOTICE_TASK)
def send_client_notice(notice_id: int) -> None:
    deliver_notice(notice_id)


@practice_task(PERIODIC_TASK)
def periodic(now: str | None = None) -> None:
    run_periodic(datetime.fromisoformat(now) if now else datetime.now(UTC))


@practice_task(LEFTOVERS_TASK)
def leftovers(email_ids: list[int]) -> None:
    deliver_leftovers(email_ids)


run_when_due(PERIODIC_TASK)


@practice_task(
    SEND_SMS_TASK,
    retry=lambda settings: Backoff(base_seconds=settings.mail_retry_base_seconds, tries=SMS_TRIES),
)
def send_sms(sms_id: int) -> None:
    deliver_sms(sms_id, practice_url(current_practice().slug, "/sms/status"))
