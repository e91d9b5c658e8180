"""What every page shares: templates, the logged-in operator, the CSRF check on every form,
paging, and the security headers."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from lb_common.db import Database
from lb_console.backend import Services
from lb_console.sessions import COOKIE, Session, SessionStore, session_id_from_cookie

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# No inline script or style anywhere: the pages are plain HTML forms and one stylesheet.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class NotLoggedIn(Exception):
    pass


class ForgedForm(Exception):
    """A form post without the session's CSRF token: not sent from one of our pages."""


@dataclass
class Console:
    """What the pages need, wired in bootstrap.py (on app.state.console)."""

    db: Database
    services: Services
    sessions: SessionStore
    signing_key: bytes
    admin_token: str
    secure_cookie: bool
    #: The daily call budget of one agreement (ConsoleSettings.ledger_daily_calls).
    ledger_daily_calls: int = 50_000


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


async def current(request: Request) -> Session:
    """The operator's session; NotLoggedIn (a redirect to the log-in page) without one."""
    c = console(request)
    session_id = session_id_from_cookie(c.signing_key, request.cookies.get(COOKIE))
    found = await c.sessions.find(session_id) if session_id else None
    if found is None:
        raise NotLoggedIn()
    request.state.session = found
    return found


@dataclass
class Posted:
    operator: str
    form: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        return str(self.form.get(name, default)).strip()


async def posted(request: Request) -> Posted:
    """Every form post goes through here: a session, and the session's CSRF token in the form."""
    session = await current(request)
    form = await request.form()
    given = str(form.get("csrf_token", ""))
    if not given or not hmac.compare_digest(given, session.csrf_token):
        raise ForgedForm()
    return Posted(session.operator, {k: str(v) for k, v in form.items()})


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    return templates.TemplateResponse(
        request,
        template,
        {"session": session, "notice": request.query_params.get("notice"), **context},
        status_code=status_code,
    )


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    target = (
        f"{path}{'&' if '?' in path else '?'}{urlencode({'notice': notice})}" if notice else path
    )
    return RedirectResponse(target, status_code=303)


@dataclass
class Paging:
    """Offset paging of a list whose total the service tells (or that is known to be shorter)."""

    request: Request
    limit: int
    offset: int
    total: int | None
    shown: int

    def _url(self, offset: int) -> str:
        params = {
            k: v for k, v in self.request.query_params.items() if k not in ("offset", "notice")
        }
        params["offset"] = str(max(offset, 0))
        return f"{self.request.url.path}?{urlencode(params)}"

    @property
    def previous(self) -> str | None:
        return self._url(self.offset - self.limit) if self.offset > 0 else None

    @property
    def next(self) -> str | None:
        more = (
            self.offset + self.shown < self.total
            if self.total is not None
            else self.shown >= self.limit
        )
        return self._url(self.offset + self.limit) if more else None

    @property
    def first_shown(self) -> int:
        return self.offset + 1 if self.shown else 0


def when(value: Any) -> str:
    """A time as the pages show it: UTC to the second."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["when"] = when


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        # Pages show operational data: not for shared caches, nor the back button after log-out.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
