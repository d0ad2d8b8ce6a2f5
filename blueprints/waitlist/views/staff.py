"""Staff's waitlist: the list per clinician (`?clinician=`), in the order offers go out; add a client
they may see; set an entry's order; take an entry off."""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_login import current_user

from app.nav import register_nav
from app.refusals import Problems
from app.web import carry_out, carry_out_form, staff_required
from blueprints.people.operations.access import client_for_staff
from blueprints.scheduling.models import Service
from blueprints.scheduling.operations.catalog import offering_staff
from blueprints.scheduling.operations.visibility import bookable_clients, sees_everything
from blueprints.waitlist import bp
from blueprints.waitlist.forms import ANY, ActionForm, PriorityForm, StaffJoinForm
from blueprints.waitlist.operations import entries as rules
from blueprints.waitlist.views.common import entry_labels, fill_join_choices
from tenants.database import db
from tenants.features import feature_required, is_enabled, practice_today


def _in_nav() -> bool:
    return current_user.is_authenticated and current_user.is_staff and is_enabled("waitlist")


register_nav("staff", "Waitlist", "waitlist.staff_waitlist", _in_nav, order=16)


def _clinicians() -> list:
    return offering_staff() if sees_everything(current_user) else [current_user]


def _clinician_filter() -> int | None:
    raw = request.args.get("clinician", "").strip()
    if not raw or raw == "all":
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400)
    if int(raw) not in {c.id for c in _clinicians()}:
        abort(404)
    return int(raw)


@bp.route("/waitlist", methods=["GET", "POST"])
@feature_required("waitlist")
@staff_required()
def staff_waitlist():
    clinician_id = _clinician_filter() if request.method == "GET" else None
    form = StaffJoinForm()
    clinicians = _clinicians()
    services = rules.services_for(None, by_staff=True)
    fill_join_choices(form, services, clinicians, [])
    form.client_id.choices = [("", "Choose a client")] + [
        (c.id, c.display_name) for c in bookable_clients(current_user)
    ]
    if not form.is_submitted():
        form.from_date.data = practice_today()

    def page():
        return render_template(
            "waitlist/staff.html",
            form=form,
            entries=rules.staff_entries(current_user, clinician_id),
            labels=entry_labels,
            clinicians=clinicians,
            clinician_id=clinician_id,
            priority_form=PriorityForm(),
            action_form=ActionForm(),
        ), (400 if form.errors else 200)

    def add():
        client = client_for_staff(current_user, form.client_id.data or 0)
        if client is None:
            raise Problems({"client_id": "Choose a client from the list."})
        clinician = None
        if form.clinician_id.data not in (None, ANY):
            clinician = next((c for c in clinicians if c.id == form.clinician_id.data), None)
            if clinician is None:
                raise Problems({"clinician_id": "Choose a clinician from the list."})
        return rules.join(
            current_user,
            client,
            db.session.get(Service, form.service_id.data or 0),
            clinician,
            weekdays=form.weekdays.data,
            parts=form.parts.data,
            from_date=form.from_date.data,
            until_date=form.until_date.data,
            by_staff=True,
        )

    return carry_out_form(
        form,
        add,
        page=page,
        success="Added to the waitlist.",
        then=url_for("waitlist.staff_waitlist"),
        back=url_for("waitlist.staff_waitlist"),
    )


@bp.post("/waitlist/<int:entry_id>/order")
@feature_required("waitlist")
@staff_required()
def staff_order(entry_id: int):
    form = PriorityForm()
    if not form.validate_on_submit():
        abort(400)
    return carry_out(
        lambda: rules.set_priority(
            current_user, rules.staff_entry(current_user, entry_id), form.priority.data
        ),
        success="The order was saved.",
        then=url_for("waitlist.staff_waitlist"),
        back=url_for("waitlist.staff_waitlist"),
    )


@bp.post("/waitlist/<int:entry_id>/remove")
@feature_required("waitlist")
@staff_required()
def staff_remove(entry_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: rules.leave(current_user, rules.staff_entry(current_user, entry_id)),
        success="Taken off the waitlist.",
        then=url_for("waitlist.staff_waitlist"),
        back=url_for("waitlist.staff_waitlist"),
    )
