"""Views of the client portal: home, and choosing whose record to open."""

from flask import abort, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from app.nav import register_nav
from blueprints.portal import bp
from blueprints.portal.forms import OpenRecordForm
from blueprints.portal.home import open_record_sections, record_summaries, todos
from blueprints.portal.service import accessible_records
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.features import is_enabled


def _viewer_can(permission: str):
    def visible() -> bool:
        viewer = current_viewer()
        return viewer is not None and getattr(viewer.permissions, permission)

    return visible


register_nav("portal", "Home", "portal.home", lambda: current_viewer() is not None, order=10)
register_nav(
    "portal", "Appointments", "scheduling.portal_appointments", _viewer_can("appointments"), order=20
)
register_nav(
    "portal",
    "Calendar feed",
    "scheduling.client_feed",
    lambda: (
        _viewer_can("appointments")()
        and current_viewer().user_id is not None
        and not current_viewer().read_only
    ),
    order=96,  # the person's own (a link for their calendar app): beside "Log out", not a "Practice" menu
)


@bp.get("/portal")
@portal_page()
def home():
    """What's next on the open record (each feature's section), things to do, and a card for each
    other record this login may open, with its own summary and a button to switch to it."""
    viewer = current_viewer()
    others = []
    if viewer.user_id is not None and viewer.kind != "preview" and not viewer.via_link:
        others = [
            (access, client, record_summaries(viewer, client, permissions))
            for access, client, permissions in accessible_records(current_user)
            if client.id != viewer.client.id
        ]
    return render_template(
        "portal/home.html",
        viewer=viewer,
        sections=open_record_sections(viewer),
        todos=todos(viewer),
        others=others,
        form=OpenRecordForm(),
    )


@bp.get("/portal/choose")
@login_required
def choose():
    if current_user.is_staff or not is_enabled("portal"):
        abort(404)
    records = accessible_records(current_user)
    if len(records) == 1:
        session["active_client_id"] = records[0][1].id
        return redirect(url_for("portal.home"))
    return render_template("portal/choose.html", records=records, form=OpenRecordForm())


@bp.post("/portal/open/<int:client_id>")
@login_required
def open_record(client_id: int):
    form = OpenRecordForm()
    if current_user.is_staff or not form.validate_on_submit():
        abort(404 if current_user.is_staff else 400)
    if client_id not in {client.id for _, client, _ in accessible_records(current_user)}:
        abort(404)  # not theirs, or no longer: the same answer as a record that does not exist
    session["active_client_id"] = client_id
    return redirect(url_for("portal.home"))
