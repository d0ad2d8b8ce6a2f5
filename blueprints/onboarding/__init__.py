"""Onboarding: forms as FHIR Questionnaires (built-in PHQ-9 and GAD-7, imported ones), clients'
answers as QuestionnaireResponses, what a client has to do, and what staff see of it.

`operations/` holds the rules, one module per subject; `views/` the pages, one module per subject.
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("onboarding", __name__))

from blueprints.onboarding import client_messages, digest, models  # noqa: E402,F401

client_messages.register()
from blueprints.onboarding.views import builder, library, portal, settings, signing, staff  # noqa: E402,F401
