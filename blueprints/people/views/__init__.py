"""Views of the people feature, one module per subject: `staff`, `clients`, `guardians`, `invites`.

Each view parses its form, runs one operation through `app.web.carry_out` (commit, or roll back and
show the refusal) and renders or redirects. The helpers here are shared by several of them.
"""

from __future__ import annotations

from flask import flash, redirect

from app.web import carry_out
from blueprints.people.forms import ActionForm

INCOMPLETE = "That form was incomplete. Please try again."


def refusal_text(form) -> str | None:
    """The refusal `carry_out` put on `form` that belongs to no field (shown at the top of the page)."""
    return " ".join(form.form_errors) or None


def done(message: str, url: str):
    """After a change whose message names what it made: say so, then go to `url`."""
    flash(message, "success")
    return redirect(url)


def page_action(subject, change, render, *, then, success: str | None = None, form=None):
    """Run `change(subject)` for a POST from `subject`'s page (a client's record, a staff member's):
    an incomplete form or a refusal re-renders that page, `render(subject, message, 400)`; once done,
    `then(result)` answers."""
    form = form or ActionForm()
    if not form.validate_on_submit():
        return render(subject, INCOMPLETE, 400)
    return carry_out(
        lambda: change(subject),
        success=success,
        then=then,
        form=form,
        invalid=lambda: render(subject, refusal_text(form), 400),
    )
