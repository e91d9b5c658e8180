"""Without the browser: every form post of the console is CSRF-checked, and a service's refusal
of a settings body is mapped to the fields it names."""

from __future__ import annotations

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from lb_console import settings_form
from lb_console.app import PAGES
from lb_console.web import posted


def _depends_on(route: APIRoute, dependency: object) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        found = stack.pop()
        if found.call is dependency:
            return True
        stack.extend(found.dependencies)
    return False


def test_every_post_route_checks_the_csrf_token() -> None:
    routes = [r for module in PAGES for r in module.router().routes]
    posts = [r for r in routes if isinstance(r, APIRoute) and "POST" in r.methods]
    assert len(posts) >= 6
    # /login has no session yet: it checks its own token against a SameSite=Strict cookie.
    unchecked = [r.path for r in posts if r.path != "/login" and not _depends_on(r, posted)]
    assert unchecked == []


class _Settings(BaseModel):
    unknown_product: str
    layout: int | None = None


def test_a_refused_settings_body_is_shown_at_its_fields() -> None:
    # The services answer with pydantic's errors in the text of `detail` (lb_common).
    try:
        _Settings.model_validate({"layout": "twenty-one"})
    except ValidationError as exc:
        detail = f"invalid settings: {exc.errors(include_url=False)}"
    errors = settings_form.field_errors(detail)
    assert errors == {
        "unknown_product": "Field required",
        "layout": "Input should be a valid integer, unable to parse string as an integer",
    }


def test_secrets_are_write_only() -> None:
    current = {"api_token": "s3cret", "layout": 21, "book": True, "lines": ["a"]}
    shown = {f.name: f.value for f in settings_form.fields(current)}
    assert shown["api_token"] == ""  # never rendered
    values, errors = settings_form.parse(
        current, {"s.api_token": "", "s.layout": "22", "s.book": "false", "s.lines": "[1"}
    )
    assert values["api_token"] == "s3cret"  # left empty: kept
    assert values["layout"] == "22" and values["book"] is False
    assert "lines" in errors and "JSON" in errors["lines"]
