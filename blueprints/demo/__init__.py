"""Demo data for `portico demo` and `portico run --demo`: a ready-to-try practice.

Not a web feature (it registers no views): it lives here, beside the features whose operations it
calls, so that `app/` imports no feature outside the factory and the CLI.
"""
