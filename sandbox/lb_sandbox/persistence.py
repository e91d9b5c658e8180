"""The sandbox's e-conomic agreements kept in a file, so a restart finds the ledger it left.

Off unless `LEDGERBRIDGE_SANDBOX_STATE_FILE` is set (`make up` sets it to a file in its data
folder): the services keep their links, invoices and parked messages across restarts, and a
ledger that forgot its customers would hand the same customer numbers to other people.

What is kept: every agreement's records (customers, products, drafts, booked invoices, vouchers,
journals, contacts, ...) and its number counters. What is not: the rate-limit bucket and the
Idempotency-Key answers (both short-lived), the faults and the Shopify emulation's shops. The
QuickBooks emulation's companies and tokens are kept too (quickbooks/saved_state.py).

The file is written at start (so that a missing file means a lost ledger, see scripts/stack.py)
and after every request that may change an agreement, before its response starts, by writing a new file and renaming it over the old one: a crash leaves either the old
or the new state, never half of one. The write is synchronous on purpose: no other request runs
in between, so the file always holds a state some request left (about 1 ms for the demo
agreement). JSON with tags for what JSON lacks (exact decimals, non-text keys, tuples).
"""

from __future__ import annotations

import dataclasses
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .economic.accounting_years import seed_accounting_years
from .economic.state import Agreement, AgreementRegistry
from .quickbooks import saved_state as quickbooks_state
from .quickbooks.state import QuickBooksWorld

FORMAT = 1
# Runtime machinery of an agreement, rebuilt fresh on load rather than kept.
_NOT_KEPT = frozenset({"bucket", "idempotency", "calls"})  # per run, like the bucket
# Requests under these paths can change an agreement; /shopify and /healthz cannot.
_LEDGER_PATHS = ("/economic", "/_sandbox", "/quickbooks")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class SandboxStateError(RuntimeError):
    """The state file cannot be read back; the message says which file and what to do."""


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"$map": [[_encode(k), _encode(v)] for k, v in value.items()]}
    return value


def _decode(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        (tag, inner), *_ = value.items()
        if tag == "$decimal":
            return Decimal(inner)
        if tag == "$tuple":
            return tuple(inner)
        if tag == "$map":
            return {(tuple(k) if isinstance(k, list) else k): v for k, v in inner}
    return value


def dumps(registry: AgreementRegistry, quickbooks: QuickBooksWorld | None = None) -> str:
    agreements = {
        agreement.grant_token: {
            f.name: _encode(getattr(agreement, f.name))
            for f in dataclasses.fields(Agreement)
            if f.name not in _NOT_KEPT
        }
        for agreement in registry.all()
    }
    document: dict[str, Any] = {"format": FORMAT, "agreements": agreements}
    if quickbooks is not None:
        document["quickbooks"] = _encode(quickbooks_state.snapshot(quickbooks))
    return json.dumps(document, ensure_ascii=False)


def loads(registry: AgreementRegistry, text: str, quickbooks: QuickBooksWorld | None = None) -> int:
    """Put the agreements in `text` into the registry; returns how many."""
    document = json.loads(text, object_hook=_decode)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a sandbox state file of format {FORMAT}")
    kept = {f.name for f in dataclasses.fields(Agreement)} - _NOT_KEPT
    for grant_token, fields in document["agreements"].items():
        # A field this version does not know is dropped; one it added starts at its default.
        agreement = registry.restore(grant_token, {k: v for k, v in fields.items() if k in kept})
        if "accounting_years" not in fields:  # a file from before the sandbox kept them
            seed_accounting_years(agreement)
    if quickbooks is not None:  # absent from files written before the sandbox kept it
        quickbooks_state.restore(quickbooks, document.get("quickbooks", {}))
    return len(document["agreements"])


class StateFile:
    def __init__(
        self, path: Path, registry: AgreementRegistry, quickbooks: QuickBooksWorld | None = None
    ) -> None:
        self.path = path
        self.registry = registry
        self.quickbooks = quickbooks

    def load(self) -> int:
        """Read the file if there is one; returns how many agreements it held. Without one,
        write it at once: from now on its absence means the ledger was lost."""
        if not self.path.exists():
            self.save()
            return 0
        try:
            return loads(self.registry, self.path.read_text(encoding="utf-8"), self.quickbooks)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SandboxStateError(
                f"The sandbox's saved ledger {self.path} cannot be read ({exc}). Move it away to "
                "start the sandbox with an empty ledger; then also start the services with an "
                "empty data folder, since their records point into the ledger that was lost."
            ) from exc

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(dumps(self.registry, self.quickbooks), encoding="utf-8")
        os.replace(partial, self.path)


class SaveAfterWrites:
    """ASGI middleware: after a request that may change an agreement, save before answering."""

    def __init__(self, app: ASGIApp, state: StateFile) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] in _READS
            or not path.startswith(_LEDGER_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        saved = False

        async def save_then_send(message: Message) -> None:
            nonlocal saved
            if message["type"] == "http.response.start" and not saved:
                saved = True
                self.state.save()
            await send(message)

        try:
            await self.app(scope, receive, save_then_send)
        finally:
            if not saved:  # the request failed before answering; what it changed is kept
                self.state.save()
