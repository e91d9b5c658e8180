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


def test_a_mapping_with_ledger_choices_is_shown_key_by_key_and_put_back_together() -> None:
    current = {
        "defaults": {"customer_group": 1, "layout": None},
        "vat_zones": {"domestic": 1, "eu_countries": ["DE", "SE"]},
        "b2c": {"match_on": "email", "defaults": None},
    }
    choices = {"defaults.customer_group": [("1", "1 · Webshop"), ("2", "2 · B2B")]}
    shown = {f.name: f for f in settings_form.fields(current, None, choices)}
    # Only the mapping with a pick list in it is split; the others stay one JSON field.
    assert set(shown) == {"defaults.customer_group", "defaults.layout", "vat_zones", "b2c"}
    assert shown["defaults.customer_group"].choices == choices["defaults.customer_group"]
    assert shown["defaults.layout"].choices is None and shown["vat_zones"].kind == "json"
    form = {f"s.{name}": f.value for name, f in shown.items()}
    values, errors = settings_form.parse(current, {**form, "s.defaults.customer_group": "2"})
    assert errors == {}
    assert values["defaults"] == {"customer_group": "2", "layout": None}
    assert values["vat_zones"] == current["vat_zones"] and values["b2c"] == current["b2c"]
    # Without choices (the ledger could not be read) the same settings are typed as before.
    assert {f.name for f in settings_form.fields(current)} == {"defaults", "vat_zones", "b2c"}
