"""Forms as FHIR Questionnaires, without HTTP: what the import accepts and refuses (naming the
item), the built-in PHQ-9 and GAD-7 pinned to their LOINC codes and weights, their scores and
bands (golden values, item 9 alone), and the server's own reading of enableWhen and answers."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict

from blueprints.onboarding.operations import instruments
from blueprints.onboarding.operations.fhir_response import from_response, to_response
from blueprints.onboarding.operations.instruments import GAD7, PHQ9, questionnaire, score
from blueprints.onboarding.operations.items import build_items, check_answers, enabled_items, read_answers
from blueprints.onboarding.operations.validation import QuestionnaireRefused, validate_questionnaire

ANSWERS = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
LOINC = "http://loinc.org"


def simple(*items, **top) -> dict:
    return {"resourceType": "Questionnaire", "status": "active", "item": list(items), **top}


def refusal(data) -> str:
    with pytest.raises(QuestionnaireRefused) as caught:
        validate_questionnaire(data)
    return caught.value.problems["questionnaire"]


# ------------------------------------------------------------------ the built-in instruments


@pytest.mark.parametrize(
    "instrument, panel, total, difficulty, codes",
    [
        (
            PHQ9,
            "44249-1",
            "44261-6",
            "69722-7",
            [
                "44250-9",
                "44255-8",
                "44259-0",
                "44254-1",
                "44251-7",
                "44258-2",
                "44252-5",
                "44253-3",
                "44260-8",
            ],
        ),
        (
            GAD7,
            "69737-5",
            "70274-6",
            "69726-8",
            ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"],
        ),
    ],
)
def test_built_in_instruments_carry_their_loinc_codes_weights_and_copyright(
    instrument, panel, total, difficulty, codes
):
    data = questionnaire(instrument)
    assert validate_questionnaire(copy.deepcopy(data)) == data  # passes our structure and allow-list check
    assert data["code"][0] == {"system": LOINC, "code": panel, "display": instrument.panel[1]}
    assert "No permission required to reproduce" in data["copyright"]
    questions = [item for item in data["item"] if item["type"] == "choice"]
    assert [q["code"][0]["code"] for q in questions] == [*codes, difficulty]
    for question in questions[:-1]:
        options = [
            (o["valueCoding"]["code"], o["extension"][0]["valueDecimal"]) for o in question["answerOption"]
        ]
        assert options == list(zip(ANSWERS, [0, 1, 2, 3], strict=True))
        assert question["extension"][0]["url"].endswith("questionnaire-itemControl")
    # The difficulty item is asked (required) but weighs nothing.
    assert all("extension" not in o for o in questions[-1]["answerOption"])
    assert all(
        item.get("required")
        for item in data["item"]
        if item["type"] not in ("display",) and not item.get("readOnly")
    )
    total_item = data["item"][-1]
    assert total_item["code"][0]["code"] == total and total_item["readOnly"] is True


def weights(instrument, values) -> dict:
    return {code: Decimal(v) for code, v in zip(instrument.item_codes, values, strict=False)}


@pytest.mark.parametrize(
    "values, total, band",
    [
        ([0] * 9, 0, "Minimal"),
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "Minimal"),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "Mild"),
        ([1] * 9, 9, "Mild"),
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "Moderate"),
        ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "Moderate"),
        ([3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "Moderately severe"),
        ([3, 3, 3, 3, 3, 2, 2, 0, 0], 19, "Moderately severe"),
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "Severe"),
        ([3] * 9, 27, "Severe"),
    ],
)
def test_phq9_scores_and_bands(values, total, band):
    result = score(PHQ9, weights(PHQ9, values))
    assert (result.total, result.band) == (total, band)
    assert result.needs_attention is (values[8] > 0)


def test_phq9_item_9_alone_needs_attention_whatever_the_total():
    result = score(PHQ9, weights(PHQ9, [0] * 8 + [1]))
    assert (result.total, result.band, result.needs_attention) == (1, "Minimal", True)


@pytest.mark.parametrize(
    "values, total, band",
    [([0] * 7, 0, "Minimal"), ([1, 1, 1, 1, 0, 0, 0], 4, "Minimal"), ([1, 1, 1, 1, 1, 0, 0], 5, "Mild"),
     ([1, 1, 1, 1, 1, 2, 2], 9, "Mild"), ([2, 2, 2, 2, 2, 0, 0], 10, "Moderate"), ([2] * 7, 14, "Moderate"),
     ([3, 3, 3, 3, 3, 0, 0], 15, "Severe"), ([3] * 7, 21, "Severe")],
)  # fmt: skip
def test_gad7_scores_and_bands(values, total, band):
    result = score(GAD7, weights(GAD7, values))
    assert (result.total, result.band) == (total, band)


def test_a_partial_response_is_never_scored():
    assert score(PHQ9, weights(PHQ9, [3] * 8)) is None
    assert score(GAD7, {**weights(GAD7, [1] * 7), "69736-7": None}) is None


def test_weights_read_from_ordinal_value_too():
    data = simple(
        {
            "linkId": "q",
            "type": "choice",
            "answerOption": [
                {
                    "valueCoding": {
                        "system": LOINC,
                        "code": "LA6571-9",
                        "extension": [
                            {
                                "url": instruments.ITEM_WEIGHT.replace("itemWeight", "ordinalValue"),
                                "valueDecimal": 3,
                            }
                        ],
                    }
                }
            ],
        }
    )
    items = build_items(validate_questionnaire(data))
    assert items[0].options[0].weight == Decimal(3)


# ------------------------------------------------------------------ refusals name the item


@pytest.mark.parametrize(
    "item, words",
    [
        (
            {"linkId": "scan", "type": "attachment", "text": "ID", "repeats": True},
            "item 'scan': an attachment takes one file",
        ),
        ({"linkId": "pick", "type": "coding", "text": "x"}, "item 'pick': 'coding' is an R5 item type"),
        ({"linkId": "ref", "type": "reference"}, "item 'ref': the item type 'reference'"),
        ({"linkId": "q1", "type": "string", "initial": [{"valueString": "x"}]}, "item 'q1': 'initial'"),
        ({"linkId": "q2", "type": "choice", "answerValueSet": "x"}, "item 'q2': 'answerValueSet'"),
        (
            {"linkId": "q3", "type": "string", "extension": [{"url": "http://x.org/x", "valueString": "y"}]},
            "item 'q3': the extension 'http://x.org/x' is not supported",
        ),
        (
            {"linkId": "q4", "type": "choice", "answerOption": [{"valueString": "a"}], "extension": [
                {"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl",
                 "valueCodeableConcept": {"coding": [{"code": "slider"}]}}]},
            "item 'q4': the item control must be one of",
        ),
        ({"linkId": "q5", "type": "string",
          "enableWhen": [{"question": "nope", "operator": "=", "answerString": "a"}]},
         "item 'q5': enableWhen refers to 'nope'"),
        ({"linkId": "g", "type": "group", "repeats": True, "item": [{"linkId": "g1", "type": "string"}]},
         "item 'g': repeating groups are not supported"),
        ({"linkId": "q6", "type": "string", "bogus": 1}, "item 'q6': bogus: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_an_import_outside_the_allow_list_is_refused_naming_the_item(item, words):
    message = refusal(simple({"linkId": "first", "type": "string", "text": "Name"}, item))
    assert words in message


def test_an_operator_outside_the_list_and_a_missing_behavior_are_refused():
    message = refusal(
        simple(
            {"linkId": "a", "type": "integer"},
            {"linkId": "b", "type": "string", "enableWhen": [
                {"question": "a", "operator": "~", "answerInteger": 1},
                {"question": "a", "operator": "=", "answerInteger": 2}]},
        )
    )  # fmt: skip
    assert "item 'b': the enableWhen operator '~' is not supported" in message
    assert "item 'b': several enableWhen conditions need an enableBehavior" in message


def test_not_a_questionnaire_and_bad_structure_are_refused():
    assert "not a FHIR Questionnaire" in refusal({"resourceType": "Patient"})
    assert "status" in refusal({"resourceType": "Questionnaire", "item": [{"linkId": "a", "type": "string"}]})
    assert "linkId is used twice" in refusal(
        simple({"linkId": "a", "type": "string"}, {"linkId": "a", "type": "text"})
    )


# ------------------------------------------------------------------ answers and conditions


CONDITIONAL = simple(
    {"linkId": "smoke", "type": "boolean", "text": "Do you smoke?", "required": True},
    {"linkId": "how-many", "type": "integer", "text": "How many a day?", "required": True,
     "enableWhen": [{"question": "smoke", "operator": "=", "answerBoolean": True}]},
    {"linkId": "colour", "type": "choice", "text": "Colour", "repeats": True,
     "answerOption": [{"valueString": "red"}, {"valueString": "blue"}]},
    {"linkId": "note", "type": "string", "maxLength": 5},
)  # fmt: skip


def test_the_server_rechecks_enable_when_required_types_and_max_length():
    items = build_items(validate_questionnaire(copy.deepcopy(CONDITIONAL)))
    assert "how-many" not in enabled_items(items, {"smoke": ["false"]})
    assert check_answers(items, {"smoke": ["false"], "how-many": ["x"]}, complete=True) == {}
    assert check_answers(items, {"smoke": ["true"]}, complete=True) == {"how-many": "Answer this question."}
    assert check_answers(items, {"smoke": ["true"], "how-many": ["lots"]}, complete=True) == {
        "how-many": "Enter a whole number."
    }
    assert check_answers(
        items, {"smoke": ["true"], "how-many": ["3"], "colour": ["green"], "note": ["toolong"]}, complete=True
    ) == {
        "colour": "Choose one of the answers offered.",
        "note": "Use at most 5 characters.",
    }


def test_a_decimal_answer_must_be_a_finite_number():
    """NaN and Infinity broke the signed PDF (a 500) and the response's JSON."""
    questionnaire = {"resourceType": "Questionnaire", "status": "active", "title": "Weight",
                     "item": [{"linkId": "weight", "type": "decimal", "text": "Weight"}]}
    items = build_items(validate_questionnaire(questionnaire))
    assert check_answers(items, {"weight": ["61.5"]}, complete=True) == {}
    for text in ("NaN", "-nan", "Infinity", "-Inf", "sNaN"):
        assert check_answers(items, {"weight": [text]}, complete=True) == {"weight": "Enter a number."}


def test_answers_round_trip_through_a_questionnaire_response():
    items = build_items(validate_questionnaire(copy.deepcopy(CONDITIONAL)))
    post = MultiDict(
        [("smoke", "true"), ("how-many", "10"), ("colour", "red"), ("colour", "blue"), ("note", "hi")]
    )
    answers = read_answers(items, post)
    response = to_response(
        items, answers, questionnaire="Questionnaire/form-1|1", status="completed", extra={}
    )
    assert response["item"][1] == {
        "linkId": "how-many",
        "text": "How many a day?",
        "answer": [{"valueInteger": 10}],
    }
    assert response["item"][2]["answer"] == [{"valueString": "red"}, {"valueString": "blue"}]
    assert from_response(items, response) == answers
    # A hidden question's leftover answer is not kept.
    hidden = to_response(
        items, {"smoke": ["false"], "how-many": ["10"]}, questionnaire="q", status="completed", extra={}
    )
    assert [entry["linkId"] for entry in hidden["item"]] == ["smoke"]
