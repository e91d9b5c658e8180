"""Helpers for the sandbox tests: e-conomic's schemas and a raw HTTP client to the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "economic-schemas"


def assert_schema(name: str, document: Any) -> None:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft3Validator(schema).validate(document)
