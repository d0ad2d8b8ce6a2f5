"""Staff views of the service catalog (owner and admin)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import money
from app.nav import register_nav
from app.roles import MANAGES_PRACTICE
from app.web import attach_problems, carry_out, form_status, staff_required
from blueprints.scheduling import bp
from blueprints.scheduling.forms import ServiceForm
from blueprints.scheduling.models import DELIVERIES, Service
from blueprints.scheduling.operations import catalog
from blueprints.scheduling.views.common import clinician_choices, staff_in
from tenants.database import db

register_nav("staff", "Services", "scheduling.services", staff_in(MANAGES_PRACTICE), order=70)


@bp.get("/services")
@staff_required(*MANAGES_PRACTICE)
def services():
    return render_template(
        "scheduling/staff_services.html",
        services=catalog.list_services(),
        price=catalog.format_price,
        deliveries=DELIVERIES,
        currency=catalog.currency(),
    )


def _service_page(form, item: Service | None):
    form.clinician_ids.choices = clinician_choices(catalog.offering_staff())
    currency = catalog.currency()
    form.price.label.text = f"Price ({currency})"
    form.price.description = f"For example {money.example(currency)}. Leave empty for no price."

    def page():
        return render_template("scheduling/staff_service_form.html", form=form, item=item), form_status(form)

    if request.method != "POST":
        return page()
    if not form.validate_on_submit():
        # Show the rules' findings too, beside the fields the form itself had nothing to say about.
        problems = catalog.service_problems(item, form.values())
        attach_problems(form, {name: message for name, message in problems.items() if not form[name].errors})
        return page()
    return carry_out(
        lambda: catalog.save_service(current_user, item, form.values()),
        then=_saved,
        form=form,
        invalid=page,
    )


def _saved(saved: Service):
    flash(f"Saved: {saved.name}.", "success")
    return redirect(url_for("scheduling.services"))


@bp.route("/services/new", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def new_service():
    # A new service is offered by every clinician unless someone is unticked.
    everyone = {"clinician_ids": [user.id for user in catalog.offering_staff()]}
    return _service_page(ServiceForm(data=None if request.method == "POST" else everyone), None)


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def edit_service(service_id: int):
    item = db.session.get(Service, service_id)
    if item is None:
        abort(404)
    form = ServiceForm(
        data=None
        if request.method == "POST"
        else {
            "name": item.name,
            "duration_minutes": item.duration_minutes,
            "service_code": item.service_code or "",
            "price": catalog.price_input(item),
            "bookable_online": item.bookable_online,
            "series_bookable": item.series_bookable,
            "delivery": item.delivery,
            "is_active": item.is_active,
            "clinician_ids": [user.id for user in item.clinicians],
        }
    )
    return _service_page(form, item)
