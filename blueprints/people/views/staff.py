"""Views of the staff pages (owners and admins): the list, a member's page, role changes,
deactivation and reactivation. (Inviting staff is in `views/invites.py`.)"""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from app.roles import MANAGES_PRACTICE
from app.web import staff_required
from blueprints.people import bp
from blueprints.people.forms import ActionForm, RoleForm, role_choices
from blueprints.people.operations import staff as operations
from blueprints.people.views import page_action


def staff_or_404(user_id: int):
    member = operations.staff_member(user_id)
    if member is None:
        abort(404)
    return member


def render_member(member, error: str | None = None, status: int = 200):
    form = RoleForm(role=member.role)
    roles = operations.roles_for(current_user)
    form.role.choices = role_choices(roles if member.role in roles else (member.role, *roles))
    return (
        render_template(
            "people/staff_member.html",
            member=member,
            role_form=form,
            action_form=ActionForm(),
            may_change=current_user.role == "owner" or member.role != "owner",
            error=error,
        ),
        status,
    )


def _after_change(user_id: int):
    if current_user.role not in MANAGES_PRACTICE:  # they just stepped down themselves
        return redirect(url_for("home.index"))
    return redirect(url_for("people.staff_member", user_id=user_id))


def staff_action(user_id: int, change, done: str, form=None):
    """Run `change(member)` for a POST from a member's page: 404, 403, 400 with the message, or done."""
    member = staff_or_404(user_id)
    return page_action(
        member,
        change,
        render_member,
        then=lambda _: _after_change(user_id),
        success=done.format(name=member.name),
        form=form,
    )


@bp.get("/staff")
@staff_required(*MANAGES_PRACTICE)
def staff():
    return render_template("people/staff_list.html", members=operations.list_staff())


@bp.get("/staff/<int:user_id>")
@staff_required(*MANAGES_PRACTICE)
def staff_member(user_id: int):
    return render_member(staff_or_404(user_id))


@bp.post("/staff/<int:user_id>/role")
@staff_required(*MANAGES_PRACTICE)
def change_role(user_id: int):
    form = RoleForm()
    return staff_action(
        user_id,
        lambda member: operations.change_role(current_user, member, form.role.data),
        "{name}'s role was changed.",
        form,
    )


@bp.post("/staff/<int:user_id>/deactivate")
@staff_required(*MANAGES_PRACTICE)
def deactivate_staff(user_id: int):
    return staff_action(
        user_id,
        lambda member: operations.deactivate_staff(current_user, member),
        "{name} is deactivated and logged out everywhere.",
    )


@bp.post("/staff/<int:user_id>/reactivate")
@staff_required(*MANAGES_PRACTICE)
def reactivate_staff(user_id: int):
    return staff_action(
        user_id, lambda member: operations.reactivate_staff(current_user, member), "{name} is active again."
    )
