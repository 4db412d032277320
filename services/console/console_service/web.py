"""Sessions, CSRF and the request context every page is rendered with."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from console_service.accounts import Accounts, ConsoleRole, Environment, User
from console_service.i18n import language, translator

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):  # noqa: N818 - reads as the state of the request
    """No session, or a session of a user that is gone."""


class Forbidden(Exception):  # noqa: N818
    """The user's role does not allow this."""


class CsrfFailed(Exception):  # noqa: N818
    """A state-changing request without the session's CSRF token."""


class NotFound(Exception):  # noqa: N818
    """Nothing of that name the user may see (whether it exists elsewhere is not told)."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, presented: object) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not isinstance(presented, str) \
            or not hmac.compare_digest(expected.encode(), presented.encode()):
        raise CsrfFailed()


async def check_form_csrf(request: Request) -> dict[str, Any]:
    """The posted form, once its CSRF field matched the session's token."""
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD))
    return dict(form)


@dataclass
class Context:
    """Who asks (user, enterprise, role), in which language, against which environment."""

    request: Request
    user: User | None
    enterprise: str
    environment: Environment
    lang: str
    t: Callable[[str], str]

    @property
    def role(self) -> ConsoleRole | None:
        return self.user.role_in(self.enterprise) if self.user else None

    @property
    def may_write(self) -> bool:
        return self.user is not None and self.user.may_write(self.enterprise)

    @property
    def operator(self) -> bool:
        return self.user is not None and self.user.platform_operator

    @property
    def csrf(self) -> str:
        return csrf_token(self.request)

    def require_writer(self) -> None:
        if not self.may_write:
            raise Forbidden()

    def require_operator(self) -> None:
        if not self.operator:
            raise Forbidden()


def anonymous(request: Request) -> Context:
    lang = language(request.cookies.get("lang"))
    return Context(request, None, "", Environment.SANDBOX, lang, translator(lang))


def context(request: Request, accounts: Accounts) -> Context:
    """The signed-in user's context; the enterprise is one of the user's own (the session's choice)."""
    username = request.session.get("user")
    user = accounts.user(username) if isinstance(username, str) else None
    if user is None:
        request.session.pop("user", None)
        raise LoginRequired()
    chosen = request.session.get("enterprise")
    enterprise = chosen if isinstance(chosen, str) and chosen in user.memberships else \
        next(iter(sorted(user.memberships)), "")
    lang = language(request.cookies.get("lang"))
    return Context(request, user, enterprise, accounts.environment(enterprise) if enterprise else
                   Environment.SANDBOX, lang, translator(lang))
