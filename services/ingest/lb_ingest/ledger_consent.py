"""Connecting a ledger to a connection by a person's consent, for every ledger kind that
declares a consent flow (`LedgerKind.consent`, lb_connectors/ledger/consent.py): e-conomic's
app installation, Intuit's OAuth consent. Ingest keeps what is the same for all of them:

1. `start`: a one-time `state`, of which only the SHA-256 is stored with an expiry (a newer
   start replaces it); the kind's flow answers the link to follow, with ingest's redirect
   `<public_url>/grants/<kind>/<connection>`, or `<public_url>/grants/<kind>` for a flow with
   one redirect for every connection (the state then says which connection it is for).
2. `complete`: the redirect's state is used up (once, before it expires; a forged, replayed or
   stale one is refused), the flow turns the redirect's parameters into credentials, and they
   are sealed onto the connection, which every service gets (connection.changed). Until then
   the connection keeps its old ledger.

Neither the state nor anything the flow gets back is logged or shown.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlmodel import select

from lb_common.connection_copies import ConnectionCopy
from lb_common.db import Database, utcnow
from lb_common.sealing import SecretBox
from lb_connectors.ledger.consent import ConsentContext, ConsentFlow, ConsentRefused
from lb_connectors.ledger.errors import UnknownLedgerKind
from lb_connectors.ledger.registry import ledger_kind
from lb_ingest.connection_onboarding import live_connection, onboarding_row
from lb_ingest.connections import announce, opened, seal_into
from lb_ingest.settings import IngestSettings
from lb_ingest.store import LedgerConsent

log = logging.getLogger(__name__)


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class ConsentFlows:
    """The flows of the registered kinds, each opened when first used (it reads its settings
    then) and closed with ingest."""

    def __init__(self, context: ConsentContext) -> None:
        self._context = context
        self._open: dict[str, ConsentFlow] = {}

    def flow(self, kind: str) -> ConsentFlow:
        if kind in self._open:
            return self._open[kind]
        try:
            found = ledger_kind(kind)
        except UnknownLedgerKind as exc:
            raise ConsentRefused(404, exc.reason) from None
        if found.consent is None:
            raise ConsentRefused(
                404,
                f"ledger kind {kind!r} ({found.label}) has no consent flow: enter its "
                "credentials on the connection instead (PUT /connections/{name}, `ledger`)",
            )
        self._open[kind] = flow = found.consent(self._context)
        return flow

    async def aclose(self) -> None:
        for flow in self._open.values():
            await flow.aclose()
        self._open.clear()


def redirect_path(kind: str, flow: ConsentFlow, name: str) -> str:
    if flow.shared_redirect:
        return f"/grants/{quote(kind, safe='')}"
    return f"/grants/{quote(kind, safe='')}/{quote(name, safe='')}"


def _redirect_uri(settings: IngestSettings, path: str) -> str:
    return (settings.public_url or "").rstrip("/") + path


async def start(
    db: Database,
    settings: IngestSettings,
    flows: ConsentFlows,
    kind: str,
    name: str,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """A new link for the connection's consent to `kind` (an older one stops working)."""
    flow = flows.flow(kind)
    if not settings.public_url:
        raise ConsentRefused(
            409,
            f"LEDGERBRIDGE_INGEST_PUBLIC_URL is not set: the {flow.thing}'s consent comes back "
            "to ingest's public address; set it and restart ingest",
        )
    state = secrets.token_urlsafe(32)
    redirect = _redirect_uri(settings, redirect_path(kind, flow, name))
    link = flow.start(connection=name, redirect_uri=redirect, state=state, options=options)
    expires = utcnow() + timedelta(minutes=flow.minutes)
    async with db.transaction() as session:
        await live_connection(session, name)
        row = await session.get(LedgerConsent, (name, kind))
        row = row or LedgerConsent(connection=name, kind=kind)
        row.state_sha256, row.expires_at, row.keep = _digest(state), expires, dict(link.keep)
        session.add(row)
    return {**link.answer, "expires_at": expires}


async def _use_state(
    db: Database, kind: str, flow: ConsentFlow, state: str, name: str | None
) -> LedgerConsent:
    """The pending consent `state` belongs to (of connection `name` when the redirect names
    one), used up: a second use finds nothing."""
    if not state:
        raise ConsentRefused(
            400, f"the redirect carries no state: start again with a new {flow.link}"
        )
    async with db.transaction() as session:
        query = select(LedgerConsent).where(
            LedgerConsent.kind == kind, LedgerConsent.state_sha256 == _digest(state)
        )
        if name is not None:
            query = query.where(LedgerConsent.connection == name)
        row = (await session.exec(query)).first()
        if row is None:
            raise ConsentRefused(
                403,
                f"this consent's state is unknown: it was used already, a newer {flow.link} "
                f"was made, or it is not ours; ask for a new {flow.link}",
            )
        expired = row.expires_at is None or row.expires_at < utcnow()
        used = LedgerConsent(connection=row.connection, kind=kind, keep=dict(row.keep))
        row.state_sha256, row.expires_at = None, None
        session.add(row)
    if expired:
        raise ConsentRefused(
            403,
            f"the {flow.link} of connection {used.connection!r} has expired: ask for a new one "
            "and use it in time",
        )
    return used


@dataclass(frozen=True)
class Outcome:
    connection: str
    thing: str  # "agreement", "QuickBooks company"
    books_into: str  # "this agreement", "QuickBooks company 4620816365"
    proposes_settings: bool
    copy: ConnectionCopy | None


async def complete(
    db: Database,
    box: SecretBox,
    settings: IngestSettings,
    flows: ConsentFlows,
    kind: str,
    params: Mapping[str, str],
    *,
    name: str | None = None,
) -> Outcome:
    """The redirect of a consent to `kind` (`name`: the connection its path names): the
    connection's ledger becomes what was consented to, if the state is a pending one."""
    flow = flows.flow(kind)
    if (name is None) != flow.shared_redirect:
        raise ConsentRefused(404, f"{kind} consents do not come back to this address")
    state = params.get("state", "")
    reason = flow.declined(params)
    if reason:
        which = ""
        try:
            which = (
                f" for connection {(await _use_state(db, kind, flow, state, name)).connection!r}"
            )
        except ConsentRefused:
            pass  # an unknown state: still say what the ledger answered
        raise ConsentRefused(
            403,
            f"No {flow.thing} was connected{which}: {reason}. The connection keeps its ledger; "
            f"ask for a new {flow.link} to try again",
        )
    flow.check_callback(params)
    used = await _use_state(db, kind, flow, state, name)
    connection = used.connection
    connected = await flow.complete(
        connection=connection,
        params=params,
        keep=used.keep,
        redirect_uri=_redirect_uri(settings, redirect_path(kind, flow, connection)),
    )
    ledger_kind(kind).credentials.model_validate(connected.credentials)  # as a save would
    async with db.transaction() as session:
        shop_connection = await live_connection(session, connection)
        secrets_ = opened(box, shop_connection)
        secrets_["ledger"] = {"kind": kind, "credentials": connected.credentials}
        seal_into(box, shop_connection, secrets_)
        shop_connection.revision += 1
        session.add(shop_connection)
        row = await session.get(LedgerConsent, (connection, kind))
        row = row or LedgerConsent(connection=connection, kind=kind)
        row.connected_at, row.facts = utcnow(), dict(connected.facts)
        session.add(row)
        if flow.proposes_settings:  # the old proposal was for the old ledger
            onboarding = await onboarding_row(session, connection)
            onboarding.proposal, onboarding.proposal_error = None, None
            onboarding.proposal_confirmed_at = None
            session.add(onboarding)
        copy = await announce(session, box, shop_connection)
    log.info(
        f"{flow.thing} connected",
        extra={"data": {"connection": connection, "kind": kind, **connected.facts}},
    )
    return Outcome(connection, flow.thing, connected.books_into, flow.proposes_settings, copy)


def view(rows: list[LedgerConsent]) -> dict[str, dict[str, Any]]:
    """Kind → the connection's consent as its page shows it (no state, no token)."""
    now = utcnow()
    shown: dict[str, dict[str, Any]] = {}
    for row in rows:
        pending = bool(row.state_sha256 and row.expires_at is not None and row.expires_at > now)
        shown[row.kind] = {
            "pending_until": row.expires_at if pending else None,
            "connected_at": row.connected_at,
            **row.facts,
        }
    return shown


async def consents_of(db: Database, name: str) -> list[LedgerConsent]:
    async with db.session() as session:
        rows = await session.exec(select(LedgerConsent).where(LedgerConsent.connection == name))
        return list(rows.all())
