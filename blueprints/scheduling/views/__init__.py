"""The views of scheduling, one module per subject. A view parses the request, runs one operation
through `app.web.carry_out` and renders or redirects; the rules live in `operations`.

Any id this person may not see (another practice's, a client not assigned to them) answers 404;
a page their role may not use answers 403; a time someone else took, or an edit someone else made
first, answers 409 with nothing changed.
"""
