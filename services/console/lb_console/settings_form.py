"""A service's settings as a form and back: one field per setting, typed from the current
value; the service validates, and its errors are shown next to the field they name. Settings
whose name says they are secret are write-only: never shown, kept when left empty."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SECRET_WORDS = ("secret", "token", "password")


def is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


@dataclass
class Field:
    name: str
    kind: str  # bool | text | json | secret
    value: str
    error: str = ""
    #: (value, label) pairs from the ledger: the field is a pick list.
    choices: list[tuple[str, str]] | None = None

    @property
    def value_in_choices(self) -> bool:
        return any(v == self.value for v, _ in self.choices or ())


def flat(current: Mapping[str, Any], parents: set[str]) -> dict[str, Any]:
    """The mappings named in `parents` (`defaults`, `vat_zones`: those with a pick list in
    them) become one field per key, named `defaults.customer_group`; the rest stay whole."""
    out: dict[str, Any] = {}
    for name, value in current.items():
        if isinstance(value, dict) and name in parents:
            for key, inner in value.items():
                out[f"{name}.{key}"] = inner
        else:
            out[name] = value
    return out


def fields(
    current: Mapping[str, Any],
    submitted: Mapping[str, str] | None = None,
    choices: Mapping[str, list[tuple[str, str]]] | None = None,
) -> list[Field]:
    found = []
    parents = {key.split(".")[0] for key in choices or () if "." in key}
    for name, value in flat(current, parents).items():
        if is_secret(name):
            kind, shown = "secret", ""
        elif isinstance(value, bool):
            kind, shown = "bool", "true" if value else "false"
        elif isinstance(value, dict | list):
            kind, shown = "json", json.dumps(value, indent=1)
        else:
            kind, shown = "text", "" if value is None else str(value)
        if submitted is not None and kind != "secret" and f"s.{name}" in submitted:
            shown = submitted[f"s.{name}"]
        field = Field(name, kind, shown)
        if kind == "text" and choices and name in choices:
            field.choices = choices[name]
        found.append(field)
    return found


def parse(
    current: Mapping[str, Any], form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings to send, from the form; and the fields we could not even read (bad JSON).
    Scalars go as text: the service's model reads "42" as a number where it wants one."""
    result: dict[str, Any] = {}
    errors: dict[str, str] = {}
    # A mapping was shown key by key when the form has its keys' fields.
    parents = {
        name
        for name, value in current.items()
        if isinstance(value, dict) and any(k.startswith(f"s.{name}.") for k in form)
    }
    for name, value in flat(current, parents).items():
        given = form.get(f"s.{name}")
        if given is None:
            result[name] = value
            continue
        given = given.strip()
        if is_secret(name):
            result[name] = given if given else value
        elif isinstance(value, bool):
            result[name] = given == "true"
        elif isinstance(value, dict | list):
            try:
                result[name] = json.loads(given) if given else None
            except json.JSONDecodeError as exc:
                errors[name] = f"not readable as JSON ({exc.msg} at line {exc.lineno})"
        elif value is None and not given:
            result[name] = None
        else:
            result[name] = given
    return _nested(current, result), errors


def _nested(current: Mapping[str, Any], parsed: dict[str, Any]) -> dict[str, Any]:
    """The flat fields back under the mappings they came from."""
    out: dict[str, Any] = {}
    for name, value in parsed.items():
        parent, _, key = name.partition(".")
        if key and isinstance(current.get(parent), dict):
            out.setdefault(parent, {})[key] = value
        else:
            out[name] = value
    return out


_ERROR = re.compile(
    r"'loc': \((?P<loc>[^)]*)\), 'msg': (?P<msg>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
)


def field_errors(detail: str) -> dict[str, str]:
    """The services answer a refused settings body with pydantic's errors in the text of
    `detail` ("invalid settings: [{'loc': ('name',), 'msg': '...'}]"): map them to fields."""
    found: dict[str, str] = {}
    for match in _ERROR.finditer(detail):
        names = re.findall(r"'([^']*)'|(\d+)", match["loc"])
        parts = [a or b for a, b in names]
        if not parts:
            continue
        try:
            message = str(ast.literal_eval(match["msg"]))
        except (ValueError, SyntaxError):
            message = match["msg"].strip("'\"")
        where = ".".join(parts[1:])
        text = f"{message} ({where})" if where else message
        found[parts[0]] = f"{found[parts[0]]}; {text}" if parts[0] in found else text
    return found
