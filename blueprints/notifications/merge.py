"""Merge tags: the only way a practice's words and a client's details meet in an automated message.

A template is plain text with `{{tag}}` placeholders from a fixed whitelist (`TAGS`). Rendering is
plain substitution: no expressions, filters, loops or attribute access, so a practice can never
program a template (no user-edited Jinja), and a value can never be re-read as a tag. A tag outside
the whitelist, or anything that looks like template code (`{%`, `{#`, an unclosed `{{`), is refused
when the template is saved, with a message naming it. Subjects are stored in clear in the outbox
(bodies are sealed), so the tags in `NOT_IN_SUBJECTS` (a link that opens the portal, and names that
say what care the client gets) are refused in a subject, naming the tag.

No tag reaches clinical content: there is no tag for a form or assessment name, a message's text or
a note. Service names and clinician names are values the sender may blank (`service` is empty unless
the practice turns it on; `clinician` is empty when the practice hides it; discreet mode blanks both).
"""

from __future__ import annotations

import re

TAGS = {
    "first_name": "the client's first name",
    "practice_name": "the practice's name (the neutral sender name in discreet mode)",
    "date_time": "the appointment's date and time, in the client's own time zone",
    "clinician": "the clinician's name (empty when the practice hides it)",
    "service": "the service's name (empty unless the practice shows it)",
    "profile_link": "a fresh link that opens the client's portal in one tap",
}
NOT_IN_SUBJECTS = ("profile_link", "service", "clinician")
_TAG = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_CODE = re.compile(r"\{[%#]|\{\{|\}\}")
MAX_SUBJECT = 200
MAX_BODY = 5000


def template_problem(text: str, field: str = "template", limit: int = MAX_BODY) -> str | None:
    """Why `text` may not be saved as a template (None when it may)."""
    if len(text) > limit:
        return f"The {field} is too long: use at most {limit} characters."
    unknown = [name for name in _TAG.findall(text) if name not in TAGS]
    if unknown:
        names = ", ".join(f"{{{{{name}}}}}" for name in dict.fromkeys(unknown))
        allowed = ", ".join(f"{{{{{name}}}}}" for name in TAGS)
        return f"Unknown merge tag {names} in the {field}. The tags you can use are {allowed}."
    if _CODE.search(_TAG.sub("", text)):
        return f"The {field} has template code or an unclosed tag: only {{{{tag}}}} placeholders are allowed."
    return None


def subject_problem(text: str) -> str | None:
    """Why `text` may not be saved as a subject (None when it may)."""
    problem = template_problem(text, "subject", MAX_SUBJECT)
    if problem:
        return problem
    kept_out = [name for name in _TAG.findall(text) if name in NOT_IN_SUBJECTS]
    if kept_out:
        names = ", ".join(f"{{{{{name}}}}}" for name in dict.fromkeys(kept_out))
        return (
            f"The subject cannot use {names}: subjects are stored and shown unprotected. "
            "Put it in the message instead."
        )
    return None


def render(text: str, values: dict[str, str]) -> str:
    """`text` with every whitelisted tag replaced by its value (one pass: a value is never re-read).
    A line whose tags are all empty is left out ("Service: {{service}}" when services are hidden)."""
    lines = []
    for line in text.split("\n"):
        names = _TAG.findall(line)
        if names and not any(values.get(name) for name in names):
            continue
        lines.append(_TAG.sub(lambda match: values.get(match.group(1), ""), line))
    return "\n".join(lines)
