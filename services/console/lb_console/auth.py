"""Log-in with the admin token, log-out, and what a page answers without a session or with a
forged form."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lb_console import audit
from lb_console.sessions import COOKIE, cookie_value, session_id_from_cookie
from lb_console.web import ForgedForm, NotLoggedIn, Posted, console, posted, redirect, render

# Before log-in there is no session to hold a CSRF token: the log-in form carries a random value
# that must equal this cookie's (a page elsewhere can neither read nor set it).
LOGIN_COOKIE = "lb_console_login"


def _safe_next(target: str | None) -> str:
    # Only a path of ours: never an open redirect to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", login_token=token, next=_safe_next(next))
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=console(request).secure_cookie,
            max_age=1800,
        )
        return response

    @r.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request,
        operator: str = Form(""),
        token: str = Form(""),
        login_token: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        c = console(request)
        expected_login = request.cookies.get(LOGIN_COOKIE, "")
        if not login_token or not hmac.compare_digest(login_token, expected_login):
            raise ForgedForm()
        operator = operator.strip()
        errors: dict[str, str] = {}
        if not operator:
            errors["operator"] = "Say who you are: your name goes into the audit log."
        if not c.admin_token or not hmac.compare_digest(token.encode(), c.admin_token.encode()):
            errors["token"] = "That is not the admin token."
        if errors:
            await audit.record(
                c.db, operator or "(unnamed)", "login.refused", reason="; ".join(errors.values())
            )
            fresh = secrets.token_urlsafe(24)
            response = render(
                request,
                "login.html",
                status_code=401,
                login_token=fresh,
                next=_safe_next(next),
                errors=errors,
                operator=operator,
            )
            response.set_cookie(LOGIN_COOKIE, fresh, httponly=True, samesite="strict", max_age=1800)
            return response
        session_id, _ = await c.sessions.start(operator)
        await audit.record(c.db, operator, "login")
        done = RedirectResponse(_safe_next(next), status_code=303)
        done.set_cookie(
            COOKIE,
            cookie_value(c.signing_key, session_id),
            httponly=True,
            samesite="strict",
            secure=c.secure_cookie,
            max_age=int(c.sessions.lifetime.total_seconds()),
        )
        done.delete_cookie(LOGIN_COOKIE)
        return done

    @r.post("/logout")
    async def logout(request: Request, form: Posted = Depends(posted)) -> Response:
        c = console(request)
        session_id = session_id_from_cookie(c.signing_key, request.cookies.get(COOKIE))
        if session_id:
            await c.sessions.end(session_id)
        await audit.record(c.db, form.operator, "logout")
        response = redirect("/login", "You are logged out.")
        response.delete_cookie(COOKIE)
        return response

    return r


async def not_logged_in(request: Request, _: Exception) -> Response:
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"/login?{urlencode({'next': target})}" if target != "/" else "/login", 303
        )
    return render(
        request, "refused.html", status_code=401, why="Your session has ended: log in again."
    )


async def forged_form(request: Request, _: Exception) -> Response:
    return render(
        request,
        "refused.html",
        status_code=403,
        why="This form was not sent from a console page (its security token is missing or "
        "wrong), so nothing was done. Open the page again and send it from there.",
    )


HANDLERS = {NotLoggedIn: not_logged_in, ForgedForm: forged_form}
