"""The demo practice's forms: an onboarding set (the built-in client information, a consent, an
intake, PHQ-9, GAD-7, in that order), its crisis resources, and one completed PHQ-9 for the adult client. Made
through the same operations staff and clients use; running the demo again adds nothing twice."""

from __future__ import annotations

from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.onboarding.models import Form, FormResponse
from blueprints.onboarding.operations import library, profile, record, responses
from blueprints.onboarding.operations.instruments import GAD7, PHQ9
from blueprints.onboarding.operations.validation import SIGNATURE_REQUIRED
from blueprints.people.models import Client
from blueprints.portal.service import SELF
from blueprints.portal.viewer import Viewer
from tenants.database import db
from tenants.features import practice_settings

LOINC = "http://loinc.org|"


def _question(link_id: str, text: str, kind: str = "string", **more) -> dict:
    return {"linkId": link_id, "text": text, "type": kind, **more}


def _options(*labels: str) -> list[dict]:
    return [{"valueString": label} for label in labels]


CONSENT = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Consent to treatment and practice policies",
    # A consent the client signs (typed name, "I agree"), not just submits.
    "extension": [{"url": SIGNATURE_REQUIRED, "valueBoolean": True}],
    "item": [
        {
            "linkId": "policy",
            "type": "display",
            "text": (
                "Harbor Family Therapy keeps what you share confidential, except where the law requires "
                "otherwise (risk of serious harm to you or others, abuse of a child or vulnerable adult, "
                "a court order). Sessions last 50 minutes; please cancel at least 24 hours ahead."
            ),
        },
        {
            "linkId": "consent",
            "type": "display",
            "text": (
                "I consent to assessment and treatment by Harbor Family Therapy. I understand that I may "
                "stop treatment at any time, and that I can ask questions about it whenever I wish."
            ),
        },
        _question(
            "preferred-contact",
            "How may we contact you about appointments?",
            "choice",
            required=True,
            answerOption=_options("Email", "Phone", "Text message"),
        ),
    ],
}
INTAKE = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Intake questionnaire",
    "item": [
        _question("reason", "What brings you to therapy now?", "text", required=True),
        _question("goals", "What would you like to be different?", "text"),
        _question("therapy-before", "Have you seen a therapist before?", "boolean", required=True),
        _question(
            "therapy-before-detail",
            "What helped, and what did not?",
            "text",
            enableWhen=[{"question": "therapy-before", "operator": "=", "answerBoolean": True}],
        ),
        _question(
            "sleep",
            "How has your sleep been?",
            "choice",
            required=True,
            answerOption=_options("Good", "Fair", "Poor"),
            extension=[
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl",
                    "valueCodeableConcept": {"coding": [{"code": "drop-down"}]},
                }
            ],
        ),
    ],
}


def _own_form(owner: User, questionnaire: dict) -> Form:
    existing = db.session.scalars(
        select(Form).where(Form.title == questionnaire["title"], Form.instrument.is_(None))
    ).first()
    return existing or library.import_form(owner, questionnaire)


def populate_forms(owner: User, adult: Client, adult_login: User) -> None:
    settings = practice_settings()
    settings.crisis_resources = settings.crisis_resources or record.US_CRISIS_DEFAULT
    settings.ask_emergency_contact = True
    builtins = library.ensure_builtins()  # client information follows the questions asked
    own = [_own_form(owner, data) for data in (CONSENT, INTAKE)]
    steps = [builtins[profile.KEY], *own, builtins[PHQ9.key], builtins[GAD7.key]]
    record.set_onboarding_set(owner, [form.id for form in steps])
    phq9 = builtins[PHQ9.key]
    done = db.session.scalars(
        select(FormResponse).where(
            FormResponse.client_id == adult.id,
            FormResponse.form_id == phq9.id,
            FormResponse.status == "completed",
        )
    ).first()
    if done is None:
        # Mild (6): two items on several days, two more than half the days; item 9 "Not at all".
        weights = dict(zip(PHQ9.item_codes, (1, 2, 1, 2, 0, 0, 0, 0, 0), strict=True))
        codes = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")
        answers = {code: [LOINC + codes[weight]] for code, weight in weights.items()}
        answers[PHQ9.difficulty[0]] = [LOINC + "LA6573-5"]
        viewer = Viewer("client", adult, SELF, user_id=adult_login.id, name=adult_login.name)
        responses.submit(viewer, phq9.id, answers)
