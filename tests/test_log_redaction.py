"""Tokens in URLs never reach the logs."""

import logging

from app.log_redaction import RedactTokens, redact


def test_token_paths_and_query_values_are_redacted():
    assert redact('"GET /l/abc123-_XYZ HTTP/1.1" 200') == '"GET /l/[redacted] HTTP/1.1" 200'
    assert redact("POST /reset-password/tok3n?next=/x") == "POST /reset-password/[redacted]?next=/x"
    assert redact("GET /activate/s3cret") == "GET /activate/[redacted]"
    assert redact("POST /portal/offers/0ff3r_T0k HTTP/1.1") == "POST /portal/offers/[redacted] HTTP/1.1"
    assert redact("GET /auth/handoff?token=abc&x=1") == "GET /auth/handoff?token=[redacted]&x=1"
    assert redact("GET /login?next=/clients") == "GET /login?next=/clients"


def test_the_filter_rewrites_formatted_records():
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '"%s %s" %s', ("GET", "/l/SECRET", 200), None
    )
    RedactTokens().filter(record)
    assert "SECRET" not in record.getMessage() and "/l/[redacted]" in record.getMessage()
