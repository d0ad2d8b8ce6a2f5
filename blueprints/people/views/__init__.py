"""Views of the people feature, one module per subject: `staff`, `clients`, `guardians`, `invites`.

Each view parses its form, runs one operation through `app.web.carry_out` (commit, or roll back and
show the refusal) and renders or redirects. The two helpers here are shared by several of them.
"""

from __future__ import annotations

from flask import flash, redirect


def refusal_text(form) -> str | None:
    """The refusal `carry_out` put on `form` that belongs to no field (shown at the top of the page)."""
    return " ".join(form.form_errors) or None


def done(message: str, url: str):
    """After a change whose message names what it made: say so, then go to `url`."""
    flash(message, "success")
    return redirect(url)
