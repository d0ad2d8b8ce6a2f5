"""What "a valid Questionnaire" means here: the `fhir.resources` R4B model accepts its structure,
AND every item, option, condition and extension is on our own allow-list (the model checks no code
bindings: an R5 `coding` item or an unknown operator parses fine).

Anything outside the allow-list is refused with a message naming the item (its linkId), never
dropped: a practice importing a form must get exactly the form it brought, or a clear no.
"""

from __future__ import annotations

import re

from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import ValidationError

from app.refusals import Problems

ITEM_TYPES = {
    "group", "display", "string", "text", "boolean", "integer", "decimal", "date", "choice", "open-choice",
    "attachment",
}  # fmt: skip
NOT_YET = {
    "coding": "'coding' is an R5 item type; FHIR R4 uses 'choice'",
}
ANSWERED_TYPES = ITEM_TYPES - {"group", "display"}
CHOICE_TYPES = {"choice", "open-choice"}
ITEM_KEYS = {
    "linkId", "text", "type", "required", "repeats", "readOnly", "maxLength", "enableWhen",
    "enableBehavior", "answerOption", "item", "code", "extension", "prefix",
}  # fmt: skip
TOP_KEYS = {
    "resourceType", "id", "meta", "url", "identifier", "version", "name", "title", "status",
    "experimental", "date", "publisher", "description", "purpose", "copyright", "code",
    "subjectType", "item", "language", "contact", "jurisdiction", "useContext", "approvalDate",
    "lastReviewDate", "effectivePeriod", "derivedFrom", "text", "extension",
}  # fmt: skip
# Portico's own extension on a Questionnaire: valueBoolean true makes it a consent that is signed
# (e-signature, ESIGN/UETA) rather than just submitted. A URN: it names, and resolves to, nothing else.
SIGNATURE_REQUIRED = "urn:portico:fhir:StructureDefinition:signature-required"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
CONTROLS = {"radio-button", "check-box", "drop-down"}
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
WEIGHTS = {ITEM_WEIGHT, ORDINAL_VALUE}
OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}
CONDITION_ANSWERS = {
    "answerBoolean", "answerDecimal", "answerInteger", "answerDate", "answerString", "answerCoding",
}  # fmt: skip
OPTION_VALUES = {"valueCoding", "valueString", "valueInteger", "valueDate"}
MAX_ITEMS = 500
MAX_PROBLEMS = 8


class QuestionnaireRefused(Problems):
    """An imported Questionnaire outside what Portico supports (400, each problem naming its item)."""

    def __init__(self, messages: list[str]):
        shown = messages[:MAX_PROBLEMS]
        if len(messages) > MAX_PROBLEMS:
            shown.append(f"and {len(messages) - MAX_PROBLEMS} more")
        super().__init__({"questionnaire": "; ".join(shown)})
        self.messages = messages


def validate_questionnaire(data) -> dict:
    """`data` (parsed JSON) if it is a valid, supported Questionnaire; else QuestionnaireRefused."""
    if not isinstance(data, dict) or data.get("resourceType") != "Questionnaire":
        raise QuestionnaireRefused(
            ["this is not a FHIR Questionnaire (its resourceType must be Questionnaire)"]
        )
    try:
        Questionnaire.model_validate(data)
    except ValidationError as error:
        raise QuestionnaireRefused([_structure_message(data, e) for e in error.errors()]) from None
    problems: list[str] = []
    for key in sorted(set(data) - TOP_KEYS):
        problems.append(f"'{key}' on the Questionnaire itself is not supported")
    for extension in data.get("extension") or []:
        url = extension.get("url")
        if url != SIGNATURE_REQUIRED:
            problems.append(f"the extension '{url}' on the Questionnaire itself is not supported")
        elif not isinstance(extension.get("valueBoolean"), bool) or set(extension) != {"url", "valueBoolean"}:
            problems.append(f"the extension '{SIGNATURE_REQUIRED}' takes valueBoolean only")
    items = data.get("item") or []
    if not items:
        problems.append("the Questionnaire has no items")
    link_ids = _link_ids(items, problems)
    if len(link_ids) > MAX_ITEMS:
        problems.append(f"a form may have at most {MAX_ITEMS} items")
    _check_items(items, link_ids, problems)
    if problems:
        raise QuestionnaireRefused(problems)
    return data


def needs_signature(questionnaire: dict) -> bool:
    """Whether this Questionnaire is a consent the client signs (see SIGNATURE_REQUIRED)."""
    return any(
        extension.get("url") == SIGNATURE_REQUIRED and extension.get("valueBoolean") is True
        for extension in questionnaire.get("extension") or []
    )


def _structure_message(data: dict, error: dict) -> str:
    """A pydantic error, said about the item it is in (found by walking its location)."""
    location, node, link_id = error.get("loc", ()), data, None
    trail = []
    for step in location:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            break
        trail.append(str(step))
        if isinstance(node, dict) and isinstance(node.get("linkId"), str):
            link_id = node["linkId"]
    field = str(location[-1]) if location else "the resource"
    where = f"item '{link_id}'" if link_id else "the Questionnaire"
    return f"{where}: {field}: {error.get('msg', 'is not valid')}"


def _link_ids(items: list, problems: list[str], found: dict | None = None) -> dict:
    """linkId -> item over the whole tree; duplicates and missing ones are problems."""
    found = {} if found is None else found
    for item in items:
        link_id = item.get("linkId")
        if link_id in found:
            problems.append(f"item '{link_id}': the linkId is used twice")
        found[link_id] = item
        _link_ids(item.get("item") or [], problems, found)
    return found


def _check_items(items: list, link_ids: dict, problems: list[str]) -> None:
    for item in items:
        link_id = item["linkId"]
        said = f"item '{link_id}'"
        kind = item.get("type")
        if not re.fullmatch(r"[A-Za-z0-9._/:\-]{1,64}", link_id):
            problems.append(f"{said}: a linkId must be 1-64 letters, digits or . _ / : -")
        for key in sorted(set(item) - ITEM_KEYS):
            problems.append(f"{said}: '{key}' is not supported")
        if kind in NOT_YET:
            problems.append(f"{said}: {NOT_YET[kind]}")
        elif kind not in ITEM_TYPES:
            problems.append(f"{said}: the item type '{kind}' is not supported")
        _check_item_shape(item, kind, said, problems)
        _check_extensions(item.get("extension") or [], kind, said, problems)
        for option in item.get("answerOption") or []:
            _check_option(option, said, problems)
        _check_conditions(item, link_ids, said, problems)
        _check_items(item.get("item") or [], link_ids, problems)


def _check_item_shape(item: dict, kind: str, said: str, problems: list[str]) -> None:
    if kind == "group":
        if not item.get("item"):
            problems.append(f"{said}: a group needs items")
        if item.get("repeats"):
            problems.append(f"{said}: repeating groups are not supported")
    elif item.get("item"):
        problems.append(f"{said}: only a group may contain items")
    if kind == "attachment" and item.get("repeats"):
        problems.append(f"{said}: an attachment takes one file (repeats is not supported)")
    if kind == "display" and (item.get("required") or item.get("repeats")):
        problems.append(f"{said}: a display item cannot be required or repeat")
    if kind in CHOICE_TYPES and not item.get("answerOption"):
        problems.append(f"{said}: a choice needs answerOption (answerValueSet is not supported)")
    if kind not in CHOICE_TYPES and item.get("answerOption"):
        problems.append(f"{said}: only choice and open-choice items have answer options")
    if "maxLength" in item and kind not in ("string", "text", "open-choice"):
        problems.append(f"{said}: maxLength applies to text answers only")
    if kind in ("group", "display") and item.get("readOnly"):
        problems.append(f"{said}: readOnly applies to questions only")


def _check_extensions(extensions: list, kind: str, said: str, problems: list[str]) -> None:
    for extension in extensions:
        url = extension.get("url")
        if url != ITEM_CONTROL:
            problems.append(f"{said}: the extension '{url}' is not supported")
            continue
        codes = [c.get("code") for c in (extension.get("valueCodeableConcept") or {}).get("coding") or []]
        if kind not in CHOICE_TYPES:
            problems.append(f"{said}: questionnaire-itemControl applies to choice items only")
        elif len(codes) != 1 or codes[0] not in CONTROLS:
            problems.append(f"{said}: the item control must be one of {', '.join(sorted(CONTROLS))}")


def _check_option(option: dict, said: str, problems: list[str]) -> None:
    values = set(option) & OPTION_VALUES
    if len(values) != 1:
        problems.append(f"{said}: each answer option needs one of {', '.join(sorted(OPTION_VALUES))}")
    for key in sorted(set(option) - OPTION_VALUES - {"extension"}):
        problems.append(f"{said}: '{key}' on an answer option is not supported")
    coding = option.get("valueCoding")
    if coding is not None and not coding.get("code"):
        problems.append(f"{said}: an answer option's coding needs a code")
    extensions = list(option.get("extension") or []) + list((coding or {}).get("extension") or [])
    for extension in extensions:
        if extension.get("url") not in WEIGHTS:
            url = extension.get("url")
            problems.append(f"{said}: the extension '{url}' on an answer option is not supported")
        elif "valueDecimal" not in extension and "valueInteger" not in extension:
            problems.append(f"{said}: an answer weight must be a number")


def _check_conditions(item: dict, link_ids: dict, said: str, problems: list[str]) -> None:
    conditions = item.get("enableWhen") or []
    behavior = item.get("enableBehavior")
    if behavior is not None and behavior not in ("all", "any"):
        problems.append(f"{said}: enableBehavior must be 'all' or 'any'")
    if len(conditions) > 1 and behavior is None:
        problems.append(f"{said}: several enableWhen conditions need an enableBehavior")
    for condition in conditions:
        question, operator = condition.get("question"), condition.get("operator")
        answers = set(condition) & CONDITION_ANSWERS
        target = link_ids.get(question)
        if target is None or target is item:
            problems.append(f"{said}: enableWhen refers to '{question}', not another item of this form")
        elif target.get("type") not in ANSWERED_TYPES:
            problems.append(f"{said}: enableWhen refers to '{question}', which has no answer")
        elif target.get("type") == "attachment" and operator != "exists":
            problems.append(f"{said}: a condition on the attachment '{question}' can only be 'exists'")
        if operator not in OPERATORS:
            problems.append(f"{said}: the enableWhen operator '{operator}' is not supported")
        if len(answers) != 1:
            problems.append(f"{said}: each enableWhen condition needs exactly one answer value")
        elif operator == "exists" and answers != {"answerBoolean"}:
            problems.append(f"{said}: 'exists' takes answerBoolean")
