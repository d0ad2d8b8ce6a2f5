"""The views of onboarding, one module per subject. A view parses the request, runs one operation
through `app.web.carry_out` and renders or redirects; the rules live in `operations`.

A form, response or flag id this person may not see (another practice's, another client's, a form
the client was never given) answers 404; with "Online forms" off the portal pages answer 404.
"""
