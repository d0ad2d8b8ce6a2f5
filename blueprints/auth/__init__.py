"""Auth: accounts, login and logout, the signup hand-off, password reset, staff two-factor.

service (accounts, passwords, tokens), two_factor (TOTP, sealed at rest, and recovery codes), logins
(the login steps), sessions (what the cookie holds), mfa (the web side of two-factor), signals (what
auth announces), tasks (the password-reset job), routes (the views).
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("auth", __name__))

from blueprints.auth import routes, sessions, tasks  # noqa: E402,F401
