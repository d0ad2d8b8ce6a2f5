"""The built-in instruments, PHQ-9 and GAD-7, as FHIR Questionnaires with their LOINC codes, and
their scores.

Pinned by tests: the panel, total and difficulty codes, the item codes in order, the four answers
(LA6568-5, LA6569-3, LA6570-1, LA6571-9) weighing 0-3 through `itemWeight`, every question required,
the instruments' own copyright line. A partial response is never scored; the difficulty question is
asked but not scored; the total is a read-only item the server fills in on completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

LOINC = "http://loinc.org"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
COPYRIGHT = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an "
    "educational grant from Pfizer Inc. No permission required to reproduce, translate, display or "
    "distribute."
)
FREQUENCY = (
    ("LA6568-5", "Not at all", 0),
    ("LA6569-3", "Several days", 1),
    ("LA6570-1", "More than half the days", 2),
    ("LA6571-9", "Nearly every day", 3),
)
DIFFICULTY = (
    ("LA6572-7", "Not difficult at all"),
    ("LA6573-5", "Somewhat difficult"),
    ("LA6574-3", "Very difficult"),
    ("LA6575-0", "Extremely difficult"),
)
INTRO = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"


@dataclass(frozen=True)
class Instrument:
    key: str
    title: str
    panel: tuple[str, str]
    total: tuple[str, str]
    difficulty: tuple[str, str]
    items: tuple[tuple[str, str], ...]  # (LOINC code, question) in order
    bands: tuple[tuple[int, str], ...]  # (lowest score, band), ascending

    @property
    def item_codes(self) -> list[str]:
        return [code for code, _ in self.items]

    @property
    def maximum(self) -> int:
        return 3 * len(self.items)


PHQ9 = Instrument(
    key="phq-9",
    title="PHQ-9 (depression)",
    panel=("44249-1", "PHQ-9 quick depression assessment panel [Reported.PHQ]"),
    total=("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    difficulty=(
        "69722-7",
        "If you checked off any problems, how difficult have these problems made it for you to do "
        "your work, take care of things at home, or get along with other people?",
    ),
    items=(
        ("44250-9", "Little interest or pleasure in doing things"),
        ("44255-8", "Feeling down, depressed, or hopeless"),
        ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
        ("44254-1", "Feeling tired or having little energy"),
        ("44251-7", "Poor appetite or overeating"),
        (
            "44258-2",
            "Feeling bad about yourself - or that you are a failure or have let yourself or your family down",
        ),
        ("44252-5", "Trouble concentrating on things, such as reading the newspaper or watching television"),
        (
            "44253-3",
            "Moving or speaking so slowly that other people could have noticed? Or the opposite - being "
            "so fidgety or restless that you have been moving around a lot more than usual",
        ),
        ("44260-8", "Thoughts that you would be better off dead or of hurting yourself in some way"),
    ),
    bands=((0, "Minimal"), (5, "Mild"), (10, "Moderate"), (15, "Moderately severe"), (20, "Severe")),
)
GAD7 = Instrument(
    key="gad-7",
    title="GAD-7 (anxiety)",
    panel=("69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
    total=("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
    difficulty=(
        "69726-8",
        "If you checked off any problems, how difficult have these problems made it for you to do "
        "your work, take care of things at home, or get along with other people?",
    ),
    items=(
        ("69725-0", "Feeling nervous, anxious, or on edge"),
        ("68509-9", "Not being able to stop or control worrying"),
        ("69733-4", "Worrying too much about different things"),
        ("69734-2", "Trouble relaxing"),
        ("69735-9", "Being so restless that it is hard to sit still"),
        ("69689-8", "Becoming easily annoyed or irritable"),
        ("69736-7", "Feeling afraid, as if something awful might happen"),
    ),
    bands=((0, "Minimal"), (5, "Mild"), (10, "Moderate"), (15, "Severe")),
)
INSTRUMENTS = {PHQ9.key: PHQ9, GAD7.key: GAD7}
# PHQ-9 item 9: any answer above "Not at all" needs a clinician, whatever the total.
SAFETY_ITEM = "44260-8"


def _coding(code: str, display: str) -> dict:
    return {"system": LOINC, "code": code, "display": display}


def _radio() -> list[dict]:
    coding = {"system": "http://hl7.org/fhir/questionnaire-item-control", "code": "radio-button"}
    return [{"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [coding]}}]


def questionnaire(instrument: Instrument) -> dict:
    """The instrument as a FHIR R4 Questionnaire (the JSON that is stored and exported)."""
    frequency = [
        {
            "valueCoding": _coding(code, label),
            "extension": [{"url": ITEM_WEIGHT, "valueDecimal": weight}],
        }
        for code, label, weight in FREQUENCY
    ]
    questions = [
        {
            "linkId": code,
            "code": [_coding(code, text)],
            "prefix": f"{number}.",
            "text": text,
            "type": "choice",
            "required": True,
            "answerOption": frequency,
            "extension": _radio(),
        }
        for number, (code, text) in enumerate(instrument.items, start=1)
    ]
    difficulty_code, difficulty_text = instrument.difficulty
    return {
        "resourceType": "Questionnaire",
        "url": f"{LOINC}/q/{instrument.panel[0]}",
        "name": instrument.key.replace("-", "").upper(),
        "title": instrument.title,
        "status": "active",
        "code": [_coding(*instrument.panel)],
        "copyright": COPYRIGHT,
        "item": [
            {"linkId": "intro", "type": "display", "text": INTRO},
            *questions,
            {
                "linkId": difficulty_code,
                "code": [_coding(difficulty_code, difficulty_text)],
                "text": difficulty_text,
                "type": "choice",
                "required": True,
                "answerOption": [{"valueCoding": _coding(code, label)} for code, label in DIFFICULTY],
                "extension": _radio(),
            },
            {
                "linkId": instrument.total[0],
                "code": [_coding(*instrument.total)],
                "text": "Total score",
                "type": "integer",
                "readOnly": True,
            },
        ],
    }


@dataclass(frozen=True)
class Score:
    total: int
    band: str
    item_weights: dict[str, int]

    @property
    def needs_attention(self) -> bool:
        return self.item_weights.get(SAFETY_ITEM, 0) > 0


def band(instrument: Instrument, total: int) -> str:
    return [name for lowest, name in instrument.bands if total >= lowest][-1]


def score(instrument: Instrument, weights: dict[str, Decimal | None]) -> Score | None:
    """The total and band from each scored item's answer weight; None unless every item is answered
    (a partial response is never scored)."""
    if any(weights.get(code) is None for code in instrument.item_codes):
        return None
    item_weights = {code: int(weights[code]) for code in instrument.item_codes}
    total = sum(item_weights.values())
    return Score(total, band(instrument, total), item_weights)
