"""What a client has to do, worked out when it is read (no scheduler): the practice's onboarding
set (each form until the client has completed it once), forms staff shared (until completed), and
assessments due before the next appointment (every one, or every other one, counted from when
staff set the schedule), each at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from blueprints.onboarding.models import (
    AssessmentSchedule,
    Form,
    FormAssignment,
    FormResponse,
    OnboardingStep,
)
from blueprints.scheduling.models import Appointment
from tenants.database import db

REASONS = {
    "onboarding": "Onboarding",
    "shared": "Shared by the practice",
    "assessment": "Before your appointment",
}


@dataclass(frozen=True)
class FormTodo:
    form: Form
    reason: str
    started: bool  # a draft is saved

    @property
    def reason_label(self) -> str:
        return REASONS[self.reason]


def onboarding_set() -> list[Form]:
    return list(
        db.session.scalars(
            select(Form)
            .join(OnboardingStep, OnboardingStep.form_id == Form.id)
            .where(Form.archived.is_(False))
            .order_by(OnboardingStep.position, Form.id)
        )
    )


def _last_completed(client_id: int) -> dict[int, datetime]:
    rows = db.session.execute(
        select(FormResponse.form_id, func.max(FormResponse.completed_at))
        .where(FormResponse.client_id == client_id, FormResponse.status == "completed")
        .group_by(FormResponse.form_id)
    ).all()
    return dict(rows)


def _drafts(client_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(FormResponse.form_id).where(
                FormResponse.client_id == client_id, FormResponse.status == "in-progress"
            )
        )
    )


def assessment_due(schedule: AssessmentSchedule, last_completed: datetime | None, now: datetime) -> bool:
    """Due when the client has a next appointment that the cadence counts (every one; every other one:
    the 1st, 3rd, 5th... booked since the schedule was set) and the form has not been completed
    since the appointment before it (or since the schedule was set)."""
    booked = select(Appointment).where(
        Appointment.client_id == schedule.client_id,
        Appointment.status == "booked",
        Appointment.starts_at >= schedule.set_at,
    )
    upcoming = db.session.scalars(
        booked.where(Appointment.ends_at > now).order_by(Appointment.starts_at)
    ).first()
    if upcoming is None:
        return False
    before = list(
        db.session.scalars(
            booked.where(Appointment.starts_at < upcoming.starts_at).order_by(Appointment.starts_at)
        )
    )
    if schedule.cadence == "every_other" and len(before) % 2 == 1:
        return False
    since = before[-1].starts_at if before else schedule.set_at
    return last_completed is None or last_completed < since


def todos_for(client_id: int, now: datetime | None = None) -> list[FormTodo]:
    now = now or datetime.now(UTC)
    done, drafts = _last_completed(client_id), _drafts(client_id)
    todos: list[FormTodo] = []
    seen: set[int] = set()

    def add(form: Form, reason: str) -> None:
        if form.id not in seen and not form.archived:
            seen.add(form.id)
            todos.append(FormTodo(form, reason, form.id in drafts))

    for form in onboarding_set():
        if form.id not in done:
            add(form, "onboarding")
    shared = db.session.scalars(
        select(FormAssignment)
        .where(FormAssignment.client_id == client_id, FormAssignment.completed_at.is_(None))
        .order_by(FormAssignment.assigned_at, FormAssignment.id)
    )
    for assignment in shared:
        add(assignment.form, "shared")
    schedules = db.session.scalars(
        select(AssessmentSchedule)
        .where(AssessmentSchedule.client_id == client_id)
        .order_by(AssessmentSchedule.form_id)
    )
    for schedule in schedules:
        if assessment_due(schedule, done.get(schedule.form_id), now):
            add(schedule.form, "assessment")
    return todos


def onboarding_progress(client_id: int) -> tuple[int, int]:
    """(forms of the onboarding set this client has completed, forms in the set)."""
    steps, done = onboarding_set(), _last_completed(client_id)
    return sum(1 for form in steps if form.id in done), len(steps)


def completed_for(client_id: int) -> list[FormResponse]:
    return list(
        db.session.scalars(
            select(FormResponse)
            .where(FormResponse.client_id == client_id, FormResponse.status == "completed")
            .order_by(FormResponse.completed_at.desc(), FormResponse.id.desc())
        )
    )


def in_progress_for(client_id: int) -> list[FormResponse]:
    return list(
        db.session.scalars(
            select(FormResponse)
            .where(FormResponse.client_id == client_id, FormResponse.status == "in-progress")
            .order_by(FormResponse.updated_at.desc())
        )
    )
