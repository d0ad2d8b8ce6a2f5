"""Answers as a FHIR QuestionnaireResponse: built from `{linkId: [text]}` (only the items shown for
those answers: a hidden question's leftovers are not kept), read back into it, and shown as a
person reads them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from blueprints.onboarding.operations.items import DOCUMENT_URN, OTHER, Item, enabled_items, typed, walk
from blueprints.onboarding.operations.validation import CHOICE_TYPES


def _answer_json(value) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, Decimal):
        return {"valueDecimal": float(value)}
    if isinstance(value, date):
        return {"valueDate": value.isoformat()}
    return {"valueString": value}


def to_response(
    items: list[Item], answers: dict[str, list[str]], *, questionnaire: str, status: str, extra: dict
) -> dict:
    """A QuestionnaireResponse with the answers of the items shown (a hidden item's leftovers go)."""
    shown = enabled_items(items, answers)
    extra = dict(extra)

    def build(level: list[Item]) -> list[dict]:
        out = []
        for item in level:
            if item.link_id not in shown or item.type == "display":
                continue
            entry: dict = {"linkId": item.link_id}
            if item.text:
                entry["text"] = item.text
            if item.type == "group":
                children = build(item.children)
                if children:
                    out.append(entry | {"item": children})
                continue
            given = extra.pop(item.link_id, None) or [
                _answer_json(typed(item, t)) for t in answers.get(item.link_id, [])
            ]
            if given:
                out.append(entry | {"answer": given})
        return out

    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire,
        "status": status,
        "item": build(items),
    }


def from_response(items: list[Item], response: dict) -> dict[str, list[str]]:
    """The answers of a stored QuestionnaireResponse, as a post would give them."""
    by_id = {item.link_id: item for item in walk(items)}
    answers: dict[str, list[str]] = {}

    def visit(entries: list[dict]):
        for entry in entries:
            item = by_id.get(entry.get("linkId"))
            visit(entry.get("item") or [])
            if item is None or not entry.get("answer"):
                continue
            answers[item.link_id] = [_answer_text(item, answer) for answer in entry["answer"]]

    visit(response.get("item") or [])
    return answers


def _answer_text(item: Item, answer: dict) -> str:
    if item.type in CHOICE_TYPES:
        for option in item.options:
            if option.value == answer:
                return option.key
        if "valueString" in answer:
            return OTHER + answer["valueString"]
    if "valueAttachment" in answer:
        return "document:" + answer["valueAttachment"].get("url", "").removeprefix(DOCUMENT_URN)
    value = next(iter(answer.values()))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def display_answer(item: Item, text: str) -> str:
    """An answer as a person reads it (an option's label, "Yes"/"No")."""
    if text.startswith(OTHER):
        return text[len(OTHER) :]
    option = item.option(text)
    if option is not None:
        return option.label
    if item.type == "boolean":
        return {"true": "Yes", "false": "No"}.get(text, text)
    if item.type == "attachment":
        return f"Uploaded file (document #{text.removeprefix('document:')})"
    return text
