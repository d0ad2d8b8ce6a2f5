"""The PDF of a signed consent: exactly the text and answers that were hashed (read from the
signed record, never from the form's current version or a changed template's data), then a
certificate page with the hash, the times, the signer and how they were authenticated."""

from __future__ import annotations

from datetime import datetime

from flask import render_template

from blueprints.onboarding.operations.pdf import html_to_pdf
from blueprints.people.models import Client
from tenants.context import current_practice


def _answer_text(answer: dict) -> str:
    key, value = next(iter(answer.items()))
    if key == "valueCoding":
        return value.get("display") or value.get("code") or ""
    if key == "valueBoolean":
        return "Yes" if value else "No"
    if key == "valueAttachment":
        return value.get("title") or "(file)"
    return str(value)


def answers_by_link(response: dict) -> dict[str, list[str]]:
    """linkId -> the answers as a person reads them, from a QuestionnaireResponse."""
    found: dict[str, list[str]] = {}

    def visit(items):
        for item in items or []:
            if item.get("answer"):
                found[item["linkId"]] = [_answer_text(answer) for answer in item["answer"]]
            visit(item.get("item"))

    visit(response.get("item"))
    return found


def signed_html(payload: dict, digest: str, client: Client, first_viewed: datetime | None) -> str:
    return render_template(
        "onboarding/pdf/signed.html",
        practice=current_practice(),
        client_name=client.display_name,
        shown=payload["shown"],
        answers=answers_by_link(payload["response"]),
        signer=payload["signer"],
        reference=payload["questionnaire"]["reference"],
        digest=digest,
        first_viewed=first_viewed,
    )


def render_signed_pdf(payload: dict, digest: str, client: Client, first_viewed: datetime | None) -> bytes:
    return html_to_pdf(signed_html(payload, digest, client, first_viewed))
