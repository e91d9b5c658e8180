"""schemathesis checks of our own, loaded by scripts/fuzz_api.py (SCHEMATHESIS_HOOKS).

`sandbox_error_shape`: the sandbox stands in for e-conomic and Shopify, so a refusal must look
like theirs, or our clients' error handling is tested against a shape the vendor never sends.
e-conomic's error body (restdocs.e-conomic.com, "Errors"): `message`, `developerHint`,
`logId`, `httpStatusCode` (the status again) and `logTime`; Shopify's: `{"errors": ...}`;
QuickBooks': a `Fault` (`fault` on 401) with a list of errors, or OAuth's `{"error": ...}` from
its token and consent endpoints (sandbox/lb_sandbox/quickbooks/faults.py).
Keap's (v1): `{"message": ...}`, its gateway's `{"fault": ...}` for a credential it refuses.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import schemathesis

# Bulk results stand for Shopify's signed storage URLs (Google Cloud Storage), not the Admin
# API: their 404 is the storage's, which our client never reads as an error body.
BULK_RESULTS = "/shopify/bulk-results/"
# e-conomic's installation page is a web page a person opens in a browser (the grant flow), not
# the REST API: its refusals are HTML pages, as e-conomic's own are.
INSTALLATION_PAGE = "/secure/api1/requestaccess.aspx"
ECONOMIC_FIELDS = ("message", "developerHint", "logId", "httpStatusCode", "logTime")


def error_shape_problem(path: str, status: int, content: bytes) -> str | None:
    """What is wrong with the sandbox's error answer, or None when it has the vendor's shape."""
    if status < 400 or path.startswith(BULK_RESULTS) or path == INSTALLATION_PAGE:
        return None
    try:
        body: Any = json.loads(content)
    except ValueError:
        return f"{status} answer is not JSON: {content[:200]!r}"
    if path.startswith(("/keap/", "/_sandbox/keap/")):
        if not isinstance(body, dict) or not ({"message", "fault"} & set(body)):
            return f"{status} answer is not Keap's error shape {{'message': ...}}: {body!r}"
        return None
    if path.startswith(("/quickbooks/", "/_sandbox/quickbooks/")):
        problem = _quickbooks_shape_problem(path, status, body)
        if problem is None or not path.startswith("/_sandbox/"):
            return problem
        # The sandbox's own QuickBooks admin routes refuse bad input as the other admin routes do.
    elif path.startswith("/shopify/"):
        if not isinstance(body, dict) or "errors" not in body:
            return f"{status} answer is not Shopify's error shape {{'errors': ...}}: {body!r}"
        return None
    if not isinstance(body, dict):
        return f"{status} answer is not e-conomic's error object: {body!r}"
    missing = [name for name in ECONOMIC_FIELDS if name not in body]
    if missing:
        return f"{status} answer lacks e-conomic's {', '.join(missing)}: {body!r}"
    if body["httpStatusCode"] != status:
        return f"httpStatusCode {body['httpStatusCode']!r} differs from the status {status}"
    return None


def _quickbooks_shape_problem(path: str, status: int, body: Any) -> str | None:
    if path.startswith(("/quickbooks/oauth2/", "/quickbooks/connect/")):
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return None
        return f"{status} answer is not OAuth's error shape {{'error': ...}}: {body!r}"
    fault = body.get("Fault", body.get("fault")) if isinstance(body, dict) else None
    errors = fault.get("Error", fault.get("error")) if isinstance(fault, dict) else None
    if isinstance(errors, list) and errors and all("code" in e for e in errors):
        return None
    return f"{status} answer is not QuickBooks' Fault shape: {body!r}"


@schemathesis.check
def sandbox_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    path = urlsplit(str(response.request.url)).path
    problem = error_shape_problem(path, response.status_code, response.content)
    if problem is not None:
        raise AssertionError(problem)
    return None
