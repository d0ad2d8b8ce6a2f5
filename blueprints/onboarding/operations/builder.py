"""The browser form builder: a form as rows staff edit (one row per question, no JSON), turned into
a Questionnaire that passes the same validation as an import, and saved as a new form or a new
version of one of the practice's own forms (a version is never edited in place).

The builder covers what a practice needs to write a form by hand: a flat list of questions of the
supported types, options one per line, required, "show when question X is Y" on a yes/no or choice
question. A form with groups, weights or repeats (imported) is edited by exporting and importing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.refusals import NotAllowed, Problems
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.onboarding.models import Form
from blueprints.onboarding.operations import library
from blueprints.onboarding.operations.validation import ITEM_CONTROL, validate_questionnaire
from tenants.database import db

TYPES = {
    "string": "Short answer",
    "text": "Long answer",
    "boolean": "Yes / no",
    "choice": "Choose from a list",
    "open-choice": "Choose from a list, or write another answer",
    "integer": "Whole number",
    "decimal": "Number",
    "date": "Date",
    "attachment": "File upload (goes to the client's Documents)",
    "display": "Text only (no answer)",
}
CONTROLS = {"radio-button": "Radio buttons", "check-box": "Check boxes", "drop-down": "Drop-down"}
MAX_ROWS = 100
# The rows a page may say it posted (removed rows leave gaps): more is refused before any is read.
MAX_POSTED_ROWS = 200
BUILDER_KEYS = {"linkId", "text", "type", "required", "answerOption", "extension", "enableWhen", "repeats"}


@dataclass
class Row:
    link_id: str
    type: str = "string"
    text: str = ""
    required: bool = False
    options: list[str] = field(default_factory=list)
    control: str = "radio-button"
    when_question: str = ""
    when_answer: str = ""


def rows_from_post(form) -> tuple[str, list[Row]]:
    """The title and rows a builder page posted (in page order); Problems when its row count is not
    a number from 0 to MAX_POSTED_ROWS."""
    count = (form.get("count") or "0").strip()
    if not (count.isascii() and count.isdigit() and int(count) <= MAX_POSTED_ROWS):
        raise Problems({"count": f"The page sent a bad number of questions: at most {MAX_POSTED_ROWS}."})
    rows = []
    for index in range(int(count)):
        prefix = f"item-{index}-"
        if not form.get(prefix + "link"):
            continue
        rows.append(
            Row(
                link_id=form.get(prefix + "link", "")[:64],
                type=form.get(prefix + "type", "string"),
                text=form.get(prefix + "text", "").strip(),
                required=bool(form.get(prefix + "required")),
                options=[
                    line.strip() for line in form.get(prefix + "options", "").splitlines() if line.strip()
                ],
                control=form.get(prefix + "control", "radio-button"),
                when_question=form.get(prefix + "when-question", ""),
                when_answer=form.get(prefix + "when-answer", "").strip(),
            )
        )
    return (form.get("title") or "").strip(), rows[:MAX_ROWS]


def _next_link_id(rows: list[Row]) -> str:
    taken = {row.link_id for row in rows}
    number = len(rows) + 1
    while f"q{number}" in taken:
        number += 1
    return f"q{number}"


def apply_action(rows: list[Row], action: str) -> list[Row]:
    """add / up-N / down-N / remove-N on the rows (anything else leaves them as they are)."""
    rows = list(rows)
    if action == "add" and len(rows) < MAX_ROWS:
        rows.append(Row(link_id=_next_link_id(rows)))
        return rows
    verb, _, number = action.partition("-")
    if not number.isdigit() or not 0 <= int(number) < len(rows):
        return rows
    index = int(number)
    if verb == "remove":
        gone = rows.pop(index).link_id
        return [replace(r, when_question="", when_answer="") if r.when_question == gone else r for r in rows]
    other = index - 1 if verb == "up" else index + 1 if verb == "down" else None
    if other is not None and 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    return rows


def _condition(row: Row, by_id: dict[str, Row]) -> list[dict]:
    target = by_id.get(row.when_question)
    if target is None:
        return []
    if target.type == "boolean":
        wanted = row.when_answer.lower() in ("yes", "true", "y")
        return [{"question": target.link_id, "operator": "=", "answerBoolean": wanted}]
    return [{"question": target.link_id, "operator": "=", "answerString": row.when_answer}]


def questionnaire_from_rows(title: str, rows: list[Row]) -> dict:
    """The Questionnaire the rows describe, or Problems saying which question is wrong and how."""
    problems = {}
    if not title:
        problems["title"] = "Give the form a title."
    if not rows:
        problems["rows"] = "Add at least one question."
    by_id = {row.link_id: row for row in rows}
    items = []
    for number, row in enumerate(rows, start=1):
        if row.type not in TYPES:
            problems[f"row-{number}"] = f"Question {number}: choose a kind of answer."
            continue
        if not row.text:
            problems[f"row-{number}"] = f"Question {number}: write the question (or the text to show)."
        item = {"linkId": row.link_id, "text": row.text, "type": row.type}
        if row.required and row.type != "display":
            item["required"] = True
        if row.type in ("choice", "open-choice"):
            if not row.options:
                problems[f"row-{number}"] = (
                    f"Question {number}: list the answers to choose from, one per line."
                )
            item["answerOption"] = [{"valueString": option} for option in row.options]
            control = row.control if row.control in CONTROLS else "radio-button"
            item["extension"] = [
                {"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [{"code": control}]}}
            ]
            if control == "check-box":
                item["repeats"] = True
        if row.when_question:
            target = by_id.get(row.when_question)
            if target is None or rows.index(target) >= rows.index(row):
                problems[f"row-{number}"] = f"Question {number}: it can depend on an earlier question only."
            elif target.type not in ("boolean", "choice", "open-choice"):
                problems[f"row-{number}"] = (
                    f"Question {number}: it can depend on a yes/no or list question only."
                )
            elif target.type != "boolean" and row.when_answer not in target.options:
                problems[f"row-{number}"] = (
                    f"Question {number}: show it when the answer is one of: " + ", ".join(target.options)
                )
            else:
                item["enableWhen"] = _condition(row, by_id)
        items.append(item)
    if problems:
        raise Problems(problems)
    return validate_questionnaire(
        {"resourceType": "Questionnaire", "status": "active", "title": title, "item": items}
    )


def problems_of(title: str, rows: list[Row]) -> dict[str, str]:
    """What keeps the rows from making a valid form (empty: nothing), for the page to show."""
    try:
        questionnaire_from_rows(title, rows)
    except Problems as refusal:
        return refusal.problems
    return {}


def rows_from_questionnaire(data: dict) -> list[Row] | None:
    """The rows of a Questionnaire the builder can edit, or None (groups, weights... : not here)."""
    rows = []
    for item in data.get("item") or []:
        if set(item) - BUILDER_KEYS or item["type"] not in TYPES:
            return None
        options = item.get("answerOption") or []
        if any(set(option) != {"valueString"} for option in options):
            return None
        control = "radio-button"
        for extension in item.get("extension") or []:
            control = extension["valueCodeableConcept"]["coding"][0]["code"]
        conditions = item.get("enableWhen") or []
        if len(conditions) > 1 or any(c.get("operator") != "=" for c in conditions):
            return None
        when_question = conditions[0]["question"] if conditions else ""
        when_answer = ""
        if conditions:
            value = conditions[0].get("answerBoolean", conditions[0].get("answerString"))
            when_answer = (
                {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value or ""
            )
        rows.append(
            Row(
                link_id=item["linkId"],
                type=item["type"],
                text=item.get("text") or "",
                required=bool(item.get("required")),
                options=[option["valueString"] for option in options],
                control=control,
                when_question=when_question,
                when_answer=when_answer,
            )
        )
    return rows


def save(actor: User, form_id: int | None, title: str, rows: list[Row]) -> Form:
    """A new form, or a new version of the practice's own form `form_id` (built-in ones stay as
    they are)."""
    if actor.role not in library.MANAGES_FORMS:
        raise NotAllowed("Only the owner, an admin or a clinician can build forms.")
    data = questionnaire_from_rows(title, rows)
    if form_id is None:
        return library.import_form(actor, data)
    form = library.form_or_404(form_id)
    if form.builtin:
        raise NotAllowed("Built-in forms cannot be changed.")
    version = library.add_version(form, data, actor)
    form.title = title[:200]
    db.session.flush()
    record(
        "form changed", detail=f"form {form.id}: {form.title}, version {version.version}", **actor.audit_actor
    )
    return form
