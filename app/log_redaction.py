"""Keeping secrets out of logs: URL tokens (profile links, resets, invitations, hand-offs, waitlist
offers) are rewritten to [redacted] in every log line, for gunicorn (deploy/gunicorn.conf.py) and the
dev server."""

import logging
import re

TOKEN_PATH = re.compile(r"(/(?:l|reset-password|activate|feeds|offers)/)[^\s\"'?#&]+")
TOKEN_QUERY = re.compile(r"([?&;](?:[\w.-]*token|code|key|signature)=)[^\s\"'&#;]+", re.IGNORECASE)


def redact(text: str) -> str:
    return TOKEN_QUERY.sub(r"\1[redacted]", TOKEN_PATH.sub(r"\1[redacted]", text))


class RedactTokens(logging.Filter):
    """Rewrites a record's message so that no URL token reaches any log handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the formatter to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install_redaction() -> None:
    """Filter the dev server's request log (werkzeug) and every root handler."""
    logging.getLogger("werkzeug").addFilter(RedactTokens())
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())
