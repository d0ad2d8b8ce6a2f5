"""What auth announces, so that features above it can react without auth importing them.

`logged_out` is sent by `auth.sessions.end_session` just before the session is cleared, with the
user who logged out (None for a session without an account) and the Flask `session` being ended.
Profile links use it to revoke the link that opened a session.
"""

from blinker import Namespace

_signals = Namespace()

logged_out = _signals.signal("logged-out")
