"""Views of messaging: the portal's messages page and the staff conversation page of a client record.

No message body is ever written to the audit log or to an email.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.nav import register_nav
from app.web import carry_out, carry_out_form, form_status, staff_required
from blueprints.messaging import bp, service
from blueprints.messaging.forms import MessageForm, StaffReplyForm
from blueprints.messaging.home import mark_read
from blueprints.people.operations.access import client_for_staff
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.context import bound_practice
from tenants.features import feature_required, is_enabled, practice_today, practice_zone

STAFF_THREAD_LABELS = {"client": "Client's own conversation", "guardian": "Guardians' conversation"}


def _messages_in_nav() -> bool:
    if not is_enabled("messaging"):
        return False
    viewer = current_viewer()
    if viewer is None:
        return False
    # A profile-link session sees the entry before its step-up; opening it asks for the step-up.
    return viewer.permissions.messages or viewer.needs_step_up


register_nav("portal", "Messages", "messaging.portal_messages", _messages_in_nav, order=40)


def portal_thread_labels(viewer) -> dict[str, str]:
    name = viewer.client.display_name
    if viewer.kind == "guardian":
        return {"client": f"{name}'s own messages", "guardian": f"Your messages about {name}"}
    return {"client": "Your messages", "guardian": f"Guardians' messages about {name}"}


@bp.route("/portal/messages", methods=["GET", "POST"])
@portal_page("messages", feature="messaging", step_up=True)
def portal_messages():
    viewer = current_viewer()
    thread = service.writable_thread(viewer.kind, viewer.permissions)
    form = MessageForm()

    def page():
        return render_template(
            "messaging/portal.html",
            viewer=viewer,
            threads=service.thread_messages(viewer.client.id, service.readable_threads(viewer.permissions)),
            labels=portal_thread_labels(viewer),
            zone=practice_zone(viewer.client.time_zone),
            write_thread=None if viewer.read_only else thread,
            form=form,
        ), form_status(form)

    if request.method == "GET":  # what is on the page is read now (the home's unread count)
        return carry_out(lambda: mark_read(viewer), then=lambda _: page())
    return carry_out_form(
        form,
        lambda: service.send_from_portal(viewer, form.body.data),
        page=page,
        success="Your message was sent.",
        then=url_for("messaging.portal_messages"),
    )


@bp.route("/clients/<int:client_id>/messages", methods=["GET", "POST"])
@feature_required("messaging")
@staff_required()
def staff_messages(client_id: int):
    client = client_for_staff(current_user, client_id)
    if client is None:
        abort(404)
    available = service.staff_threads(client)
    form = StaffReplyForm()
    form.thread.choices = [(thread, STAFF_THREAD_LABELS[thread]) for thread in available]

    def page(threads=None):
        return render_template(
            "messaging/staff.html",
            client=client,
            threads=threads if threads is not None else service.thread_messages(client.id, available),
            labels=STAFF_THREAD_LABELS,
            zone=practice_zone(),
            form=form,
        ), form_status(form)

    def replied(result):
        _, told = result
        if told:
            flash(f"Your reply was sent. {len(told)} recipient(s) were emailed a notification.", "success")
        else:
            flash("Your reply was sent. Nobody could be emailed about it (no address on file).", "warning")
        return redirect(url_for("messaging.staff_messages", client_id=client.id))

    if request.method == "GET":
        return carry_out(lambda: service.read_as_staff(current_user, client, available), then=page)
    return carry_out_form(
        form,
        lambda: service.staff_reply(current_user, client, form.thread.data, form.body.data, practice_today()),
        page=page,
        then=replied,
    )


def messaging_panel(client) -> dict | None:
    """What `messaging/_client_panel.html` shows on a client record, or None when it shows nothing."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if not is_enabled("messaging") or client_for_staff(current_user, client.id) is None:
        return None
    return {
        "count": service.message_count(client.id),
        "url": url_for("messaging.staff_messages", client_id=client.id),
    }


@bp.app_context_processor
def panel_helpers():
    return {"messaging_panel": messaging_panel}
