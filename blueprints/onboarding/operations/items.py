"""A Questionnaire's items as the pages show them, and the answers to them.

Answers travel as `{linkId: [text, ...]}` (what a form post carries: an option's key, or the text
typed). `read_answers` turns a post into that, `check_answers` applies the form's rules to it (types,
maxLength, required, enableWhen: the server decides what is shown, whatever the page's script did),
and `to_response`/`from_response` convert it to and from a FHIR QuestionnaireResponse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from blueprints.onboarding.operations.validation import CHOICE_TYPES, ITEM_CONTROL, WEIGHTS

MAX_TEXT = 10_000
OTHER = "__other__"  # the key of an open-choice's "Other" answer
# An attachment's answer: the document (on the client's record) the uploaded file became.
ATTACHED = re.compile(r"document:(\d{1,18})")
DOCUMENT_URN = "urn:portico:document:"


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    value: dict  # the FHIR answer (valueCoding / valueString / ...)
    weight: Decimal | None = None


@dataclass
class Item:
    link_id: str
    dom_id: str
    type: str
    text: str
    prefix: str | None
    required: bool
    repeats: bool
    read_only: bool
    max_length: int | None
    control: str | None
    options: list[Option]
    conditions: list[dict]
    behavior: str
    codes: list[dict]
    children: list[Item] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.type not in ("group", "display")

    @property
    def multiple(self) -> bool:
        return self.type in CHOICE_TYPES and (self.repeats or self.control == "check-box")

    @property
    def conditions_json(self) -> str:
        """The conditions for the page's script (the server decides again on every post)."""
        out = []
        for condition in self.conditions:
            key = next(k for k in condition if k.startswith("answer"))
            value = condition[key]
            entry = {"q": condition["question"], "op": condition["operator"]}
            if key == "answerCoding":
                entry |= {"v": f"{value.get('system', '')}|{value['code']}", "code": not value.get("system")}
            elif key == "answerBoolean":
                entry["v"] = "true" if value else "false"
            else:
                entry["v"] = str(value)
            out.append(entry)
        return json.dumps(out)

    def option(self, key: str) -> Option | None:
        return next((option for option in self.options if option.key == key), None)


def _option_key(option: dict) -> str:
    if "valueCoding" in option:
        coding = option["valueCoding"]
        return f"{coding.get('system', '')}|{coding['code']}"
    value = next(v for k, v in option.items() if k.startswith("value"))
    return str(value)


def _weight(option: dict) -> Decimal | None:
    extensions = list(option.get("extension") or [])
    extensions += list((option.get("valueCoding") or {}).get("extension") or [])
    for extension in extensions:
        if extension.get("url") in WEIGHTS:
            return Decimal(str(extension.get("valueDecimal", extension.get("valueInteger"))))
    return None


def _options(raw: dict) -> list[Option]:
    options = []
    for option in raw.get("answerOption") or []:
        value_key = next(k for k in option if k.startswith("value"))
        value = option[value_key]
        label = value.get("display") or value["code"] if value_key == "valueCoding" else str(value)
        options.append(Option(_option_key(option), label, {value_key: value}, _weight(option)))
    return options


def _control(raw: dict) -> str | None:
    for extension in raw.get("extension") or []:
        if extension.get("url") == ITEM_CONTROL:
            return extension["valueCodeableConcept"]["coding"][0]["code"]
    return None


def build_items(questionnaire: dict) -> list[Item]:
    """The item tree of a (validated) Questionnaire."""
    counter = iter(range(1, 100_000))

    def build(raw: dict) -> Item:
        return Item(
            link_id=raw["linkId"],
            dom_id=f"q{next(counter)}",
            type=raw["type"],
            text=raw.get("text") or "",
            prefix=raw.get("prefix"),
            required=bool(raw.get("required")),
            repeats=bool(raw.get("repeats")),
            read_only=bool(raw.get("readOnly")),
            max_length=raw.get("maxLength"),
            control=_control(raw),
            options=_options(raw),
            conditions=list(raw.get("enableWhen") or []),
            behavior=raw.get("enableBehavior") or "all",
            codes=list(raw.get("code") or []),
            children=[build(child) for child in raw.get("item") or []],
        )

    return [build(raw) for raw in questionnaire.get("item") or []]


def walk(items: list[Item]):
    for item in items:
        yield item
        yield from walk(item.children)


def read_answers(items: list[Item], form) -> dict[str, list[str]]:
    """What a post says for each answerable, writable item (empty answers left out)."""
    answers: dict[str, list[str]] = {}
    for item in walk(items):
        if not item.answered or item.read_only:
            continue
        values = [v.strip() for v in form.getlist(item.link_id)]
        if item.repeats and item.type not in CHOICE_TYPES:
            values = [line.strip() for v in values for line in v.splitlines()]
        if item.type == "open-choice" and OTHER in values:
            values.remove(OTHER)
            other = (form.get(f"{item.link_id}.other") or "").strip()
            if other:
                values.append(OTHER + other)
        values = [v for v in values if v]
        if values:
            answers[item.link_id] = values if (item.repeats or item.multiple) else values[:1]
    return answers


# ------------------------------------------------------------------ typed values and conditions


def _finite_decimal(text: str) -> Decimal:
    """A decimal answer; NaN and Infinity are refused (they break the signed PDF and the JSON)."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


def typed(item: Item, text: str):
    """The value an answer stands for (ValueError when it is not one: a bad number, an unknown option)."""
    if item.type in CHOICE_TYPES:
        if text.startswith(OTHER) and item.type == "open-choice":
            return {"valueString": text[len(OTHER) :]}
        option = item.option(text)
        if option is None:
            raise ValueError("Choose one of the answers offered.")
        return option.value
    if item.type == "attachment":
        found = ATTACHED.fullmatch(text)
        if found is None:
            raise ValueError("Upload a file.")
        return {"valueAttachment": {"url": f"{DOCUMENT_URN}{found.group(1)}"}}
    converters = {
        "boolean": lambda t: {"true": True, "false": False}[t],
        "integer": int,
        "decimal": _finite_decimal,
        "date": date.fromisoformat,
    }
    try:
        return converters.get(item.type, str)(text)
    except (KeyError, ValueError, InvalidOperation):
        raise ValueError(_TYPE_MESSAGES[item.type]) from None


_TYPE_MESSAGES = {
    "boolean": "Answer yes or no.",
    "integer": "Enter a whole number.",
    "decimal": "Enter a number.",
    "date": "Enter a date (YYYY-MM-DD).",
}


def _comparable(value):
    if isinstance(value, dict):
        value = next(iter(value.values()))
        if isinstance(value, dict):  # a coding
            return (value.get("system") or "", value.get("code"))
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    return value


def _condition_value(condition: dict):
    key = next(k for k in condition if k.startswith("answer"))
    value = condition[key]
    if key == "answerCoding":
        return (value.get("system") or "", value.get("code"))
    if key == "answerDate":
        return date.fromisoformat(value)
    return _comparable(value)


def _holds(condition: dict, values: list) -> bool:
    operator, wanted = condition["operator"], _condition_value(condition)
    if operator == "exists":
        return bool(values) == wanted
    if operator == "!=":
        return bool(values) and all(_matches(v, wanted) is False for v in values)
    return any(_compare(operator, v, wanted) for v in values)


def _matches(value, wanted) -> bool:
    if isinstance(wanted, tuple) and isinstance(value, tuple) and not wanted[0]:
        return value[1] == wanted[1]  # a condition without a system matches the code alone
    return value == wanted


def _compare(operator: str, value, wanted) -> bool:
    if operator == "=":
        return _matches(value, wanted)
    try:
        return {">": value > wanted, "<": value < wanted, ">=": value >= wanted, "<=": value <= wanted}[
            operator
        ]
    except TypeError:
        return False


def enabled_items(items: list[Item], answers: dict[str, list[str]]) -> set[str]:
    """The linkIds shown for these answers: a disabled question's answers count as absent, and
    a disabled group disables everything in it."""
    by_id = {item.link_id: item for item in walk(items)}
    memo: dict[str, bool] = {}

    def values_of(link_id: str) -> list:
        item = by_id[link_id]
        result = []
        for text in answers.get(link_id, []):
            try:
                result.append(_comparable(typed(item, text)))
            except ValueError:
                continue
        return result

    def is_enabled(link_id: str, seen: frozenset = frozenset()) -> bool:
        if link_id in memo:
            return memo[link_id]
        if link_id in seen:  # a loop of conditions: show the item rather than hide it for ever
            return True
        item = by_id[link_id]
        results = [_holds(c, values_of_guarded(c["question"], seen | {link_id})) for c in item.conditions]
        shown = not results or (all(results) if item.behavior == "all" else any(results))
        memo[link_id] = shown
        return shown

    def values_of_guarded(link_id: str, seen: frozenset) -> list:
        return values_of(link_id) if is_enabled(link_id, seen) else []

    shown: set[str] = set()

    def visit(level: list[Item]):
        for item in level:
            if is_enabled(item.link_id):
                shown.add(item.link_id)
                visit(item.children)

    visit(items)
    return shown


def check_answers(items: list[Item], answers: dict[str, list[str]], complete: bool) -> dict[str, str]:
    """linkId -> problem (empty when fine). Drafts are checked for bad values only; a completed
    response must also answer every required question that is shown."""
    shown = enabled_items(items, answers)
    problems: dict[str, str] = {}
    for item in walk(items):
        if not item.answered or item.link_id not in shown or item.read_only:
            continue
        given = answers.get(item.link_id, [])
        for text in given:
            limit = item.max_length or MAX_TEXT
            if len(text) > limit:
                problems[item.link_id] = f"Use at most {limit} characters."
                break
            try:
                typed(item, text)
            except ValueError as error:
                problems[item.link_id] = str(error)
                break
        if complete and item.required and not given and item.link_id not in problems:
            problems[item.link_id] = "Answer this question."
    return problems


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "form"
