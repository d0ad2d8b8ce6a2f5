"""The one vocabulary for "no": a `Refusal` carries an HTTP status, a message fit to show, and
optionally per-field problems (field name -> message).

Operations raise a Refusal; they never know about Flask. The web layer turns it into a form error
(`app.web.carry_out`) or a 4xx page (the error handler in `app.errors`), always after rolling back,
so a refused change leaves nothing behind. It subclasses ValueError so that rules which validate
plain values read naturally (`except ValueError` still catches a bad value).
"""

from __future__ import annotations


class Refusal(ValueError):
    """An operation said no. `status` is the HTTP answer; `problems` maps form fields to messages."""

    status = 400

    def __init__(
        self, message: str = "", *, problems: dict[str, str] | None = None, status: int | None = None
    ):
        self.problems = dict(problems or {})
        super().__init__(message or "; ".join(self.problems.values()))
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self)


class Problems(Refusal):
    """Input that a rule refused, field by field (400, shown beside the fields)."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems=problems)


class NotAllowed(Refusal):
    """This person's role or grant does not allow it (403)."""

    status = 403

    def __init__(self, message: str = "You do not have permission to do that.", **kwargs):
        super().__init__(message, **kwargs)


class NotFound(Refusal):
    """Nothing this person may see has that id (404: never says whether it exists elsewhere)."""

    status = 404

    def __init__(self, message: str = "There is nothing at this address.", **kwargs):
        super().__init__(message, **kwargs)


class Conflict(Refusal):
    """Someone else got there first (taken, already handled, edited meanwhile): 409."""

    status = 409
