"""Error pages: every refusal is a clear page with the right status, never a stack trace.

A `Refusal` that reaches Flask (an operation said no and the view did not turn it into form errors)
is rolled back and answered with its own status and message.
"""

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.refusals import Refusal
from tenants.database import db

MESSAGES = {
    400: ("Bad request", "We could not understand that request."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Not allowed", "That action is not available here."),
    409: ("Nothing was changed", "Someone else changed this first. Please reload and try again."),
    410: ("Link expired", "This link is no longer valid."),
    413: ("Too large", "That upload is larger than we accept."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: ("Something went wrong", "We could not finish that. Nothing was changed."),
}


def render_error(code: int, message: str | None = None, back: str | None = None):
    """The error page for `code`; `back` (a path on this host) offers a way back to reload."""
    title, default = MESSAGES.get(code, MESSAGES[500])
    if request.accept_mimetypes.best == "application/json":
        return {"error": title, "message": message or default}, code
    page = render_template(
        "errors/error.html", code=code, title=title, message=message or default, back=back
    )
    return page, code


def install_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "This form has expired. Please go back, reload the page and try again.")

    @app.errorhandler(Refusal)
    def refused(refusal: Refusal):
        db.session.rollback()
        return render_error(refusal.status, refusal.message or None)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        message = error.description if getattr(error, "portico_message", False) else None
        return render_error(error.code or 500, message)

    @app.errorhandler(StaleDataError)
    def changed_meanwhile(error):
        # A row's version moved between our read and our write (two people at once, the other
        # committed first): whatever path flushed it, the answer is the sequential case's 409.
        db.session.rollback()
        return render_error(409, "Someone else changed this first. Nothing was changed: reload and retry.")

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(error):
        # A value the database or the calendar cannot hold (a 30-digit id, the year 9999 plus a day):
        # the input is bad, nothing was changed.
        db.session.rollback()
        return render_error(400, "A value in that request is out of range.")

    @app.errorhandler(Exception)
    def unexpected(error):
        app.logger.exception("unhandled error")
        return render_error(500)


class PorticoHTTPError(HTTPException):
    """An HTTP refusal whose description is meant for the person who sees it."""

    portico_message = True


def refuse(code: int, message: str):
    error = PorticoHTTPError(description=message)
    error.code = code
    raise error
