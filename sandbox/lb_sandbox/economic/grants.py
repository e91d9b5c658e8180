"""e-conomic's grant flow: an app's installation URL, and the grant it ends with.

As e-conomic does it (www.e-conomic.com/developer/connect): the installation URL is
`https://secure.e-conomic.com/secure/api1/requestaccess.aspx?appPublicToken=<the app's public
token>`, optionally with `redirectUrl` and `locale` (da-DK, sv-SE, nb-NO or en-US). A user of
an agreement opens it, is asked to add the app, and the agreement grant token is shown, or,
with a `redirectUrl`, the browser goes there with the token appended as `token`.

The sandbox has no logins: the page's form says which agreement grants (an existing agreement's
grant token, or empty for a new agreement), and "Add app" grants it. A granted token belongs to
its app: a call with it and another app's secret token is refused (401), as e-conomic does.
Apps are registered on `POST /_sandbox/economic/apps` (and one from the sandbox's settings).
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .auth import str_base
from .state import AgreementRegistry

router = APIRouter()

PATH = "/secure/api1/requestaccess.aspx"
LOCALES = ("da-DK", "sv-SE", "nb-NO", "en-US")


@dataclass(frozen=True)
class App:
    public_token: str
    secret_token: str = ""
    name: str = "ledgerbridge"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _apps(request: Request) -> dict[str, App]:
    apps: dict[str, App] = request.app.state.economic_apps
    return apps


def _checked(request: Request, public_token: str, redirect_url: str, locale: str) -> App | Response:
    app = _apps(request).get(public_token)
    if app is None:
        return _page(
            "The app was not found",
            "<p>No app has this appPublicToken. Check the installation URL with the app's "
            "developer.</p>",
            404,
        )
    if locale and locale not in LOCALES:
        return _page("Unknown locale", f"<p>locale must be one of {', '.join(LOCALES)}.</p>", 400)
    if redirect_url and urlsplit(redirect_url).scheme not in ("http", "https"):
        return _page("Invalid redirectUrl", "<p>redirectUrl must be an http(s) address.</p>", 400)
    return app


@router.get(PATH)
async def request_access(
    request: Request, appPublicToken: str = "", redirectUrl: str = "", locale: str = ""
) -> Response:
    """The page a user of the agreement sees: add the app, or not."""
    app = _checked(request, appPublicToken, redirectUrl, locale)
    if isinstance(app, Response):
        return app
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
        for k, v in (("appPublicToken", appPublicToken), ("redirectUrl", redirectUrl))
        if v
    )
    return _page(
        f"Add the app {app.name}",
        f"<p>{html.escape(app.name)} asks for access to your agreement.</p>"
        f'<form method="post" action="{PATH}">{hidden}'
        "<label>Agreement (its grant token; empty: a new agreement) "
        '<input name="agreement"></label> <button>Add app</button></form>',
    )


@router.post(PATH)
async def grant(
    request: Request,
    appPublicToken: str = Form(""),
    redirectUrl: str = Form(""),
    agreement: str = Form(""),
) -> Response:
    """ "Add app": a new agreement grant token for this app, shown or sent to redirectUrl."""
    app = _checked(request, appPublicToken, redirectUrl, "")
    if isinstance(app, Response):
        return app
    registry: AgreementRegistry = request.app.state.registry
    token = secrets.token_urlsafe(32)
    if agreement:
        if registry.find(agreement) is None:
            return _page("No such agreement", "<p>No agreement has that grant token.</p>", 404)
        registry.alias(token, agreement)
    else:
        registry.get_or_create(token, str_base(request))
    registry.grant(token, app.secret_token)
    if not redirectUrl:
        return _page("The app was added", f"<p>Agreement grant token: <code>{token}</code></p>")
    parts = urlsplit(redirectUrl)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("token", token)])
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)
