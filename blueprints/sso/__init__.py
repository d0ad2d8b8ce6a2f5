"""Staff single sign-on with OpenID Connect: each practice's owner may set up one provider (Google
Workspace, Microsoft Entra, ...) and require it for staff. Clients keep their passwords.

Auth is below this package: the login page learns of the provider through a context processor
(`sso_login()`, views) and auth's password login consults the check registered here.
"""

from flask import Blueprint

from blueprints.auth.service import register_password_login_check
from blueprints.sso import service
from tenants.middleware import practice_only

bp = practice_only(Blueprint("sso", __name__))
register_password_login_check(service.password_login_refusal)

from blueprints.sso import views  # noqa: E402,F401
