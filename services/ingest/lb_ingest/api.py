"""ingest's HTTP surface: the webhook endpoint (open, signature-checked) and the admin API."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, SecretStr, ValidationError
from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select

from lb_common.admin_params import limit_query, offset_query, row_id_path, utc_time
from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database, utcnow
from lb_common.openapi_links import Link, links_to
from lb_common.sealing import SecretBox
from lb_connectors.ledgers import LEDGER_KINDS
from lb_connectors.platforms.base import notifying
from lb_connectors.platforms.registry import ADAPTERS
from lb_ingest import order_status
from lb_ingest.connection_metrics import count_webhook
from lb_ingest.connections import (
    ConnectionCache,
    IngestConnectionSettings,
    LedgerUpdate,
    ShopAccessUpdate,
    announce,
    opened,
    public_view,
    reseal_all,
    seal_into,
)
from lb_ingest.fast_path.route import add_raw_route
from lb_ingest.fast_path.writer import DeliveryWriter
from lb_ingest.notified import receive_notification
from lb_ingest.order_repository import orders_table, with_orders
from lb_ingest.orders import Order
from lb_ingest.reconcile import ReconcileError, ReconcileResult
from lb_ingest.replay import replay_order
from lb_ingest.store import (
    Delivery,
    ReconciliationMark,
    ReconciliationOutcome,
    ShopConnection,
    TimelineEntry,
)
from lb_ingest.webhooks import delivery_version_warning, receive_webhook

# A delivery's outcome (deliveries.outcome), explained in docs/orders.md.
OUTCOMES = ("received", "accepted", "duplicate", "stale", "unusable", "stored", "notified")

ReconcileNow = Callable[[str, datetime | None], Awaitable[ReconcileResult]]


_WEBHOOK_ANSWER = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "additionalProperties": True},
        }
    }
}
_WEBHOOK_DOCS: dict[str, Any] = {
    "parameters": [
        {
            "name": "platform",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": sorted(ADAPTERS)},
            "description": "The platform that sends the webhook.",
        },
        {
            "name": "connection",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The name of the shop connection (PUT /connections/{name}).",
        },
    ],
    "requestBody": {
        "required": True,
        "description": "The platform's webhook body, exactly as sent (its signature covers "
        "these bytes). Headers as the platform documents them: Shopify X-Shopify-Topic, "
        "-Hmac-Sha256, -Shop-Domain, -Webhook-Id (and -Event-Id); WooCommerce "
        "X-WC-Webhook-Topic, -Signature, -Source, -Delivery-ID.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}
_WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Stored: `status` accepted, duplicate, stale or stored (docs/orders.md)",
        **_WEBHOOK_ANSWER,
    },
    400: {"description": "Cannot be identified (a header is missing) or unknown topic"},
    401: {"description": "Signature missing or invalid: nothing is stored"},
    403: {"description": "The connection is disabled"},
    404: {"description": "Unknown platform or connection"},
    413: {"description": "Body larger than the configured limit"},
    415: {"description": "Not a JSON body"},
    422: {"description": "Stored, but the order or refund could not be read: `error` says why"},
    503: {"description": "Could not be stored: send it again"},
}


def webhook_router(
    shop_connections: ConnectionCache, writer: DeliveryWriter, *, max_body_bytes: int
) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    async def webhook(request: Request) -> JSONResponse:
        """A platform's webhook delivery: verified, stored, then answered (webhooks.py)."""
        began = time.perf_counter()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return _too_large(max_body_bytes)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_body_bytes:
                return _too_large(max_body_bytes)
        platform, name = request.path_params["platform"], request.path_params["connection"]
        answer = await receive_webhook(
            shop_connections,
            writer,
            platform=platform,
            connection_name=name,
            headers=request.headers,
            body=bytes(body),
        )
        count_webhook(platform, name, answer.status_code, time.perf_counter() - began)
        return JSONResponse(answer.body, status_code=answer.status_code)

    # Documented like any route; served as a plain Starlette route (the hottest path:
    # fast_path/route.py). The endpoint reads its two path parameters itself.
    add_raw_route(
        router,
        "/webhooks/{platform}/{connection}",
        webhook,
        methods=["POST"],
        summary="Receive a webhook delivery",
        response_class=JSONResponse,
        responses=_WEBHOOK_RESPONSES,
        openapi_extra=_WEBHOOK_DOCS,
    )
    return router


def hook_router(
    shop_connections: ConnectionCache, db: Database, *, max_body_bytes: int
) -> APIRouter:
    """Hook URLs of fetch-after-notify platforms (Keap): the URL's last segment is the
    connection's secret token (notified.py)."""
    router = APIRouter(tags=["webhooks"])

    @router.post(
        "/webhooks/{platform}/{connection}/{token}",
        summary="Receive an ids-only hook delivery or its handshake",
        responses={
            200: {
                "description": "Stored (`status` notified, duplicate, stored or unusable), "
                "or the handshake answered with X-Hook-Secret echoed"
            },
            401: {"description": "The token is not the connection's: nothing is stored"},
            403: {"description": "The connection is disabled"},
            404: {"description": "Unknown platform or connection, or a signed platform"},
            413: {"description": "Body larger than the configured limit"},
            503: {"description": "Could not be stored: send it again"},
        },
    )
    async def hook(platform: str, connection: str, token: str, request: Request) -> Response:
        """Keap posts here: the handshake (X-Hook-Secret, echoed) and deliveries naming changed
        orders by id, fetched afterwards from Keap's API (docs/orders.md)."""
        began = time.perf_counter()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return _too_large(max_body_bytes)
        body = await request.body()
        if len(body) > max_body_bytes:
            return _too_large(max_body_bytes)
        found = await receive_notification(
            shop_connections,
            db,
            platform=platform,
            connection_name=connection,
            token=token,
            headers=request.headers,
            body=body,
        )
        count_webhook(platform, connection, found.answer.status_code, time.perf_counter() - began)
        return JSONResponse(
            found.answer.body, status_code=found.answer.status_code, headers=found.headers
        )

    return router


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"body larger than {limit} bytes"}, status_code=413)


def order_view(order: Order) -> dict[str, Any]:
    return {
        "order_key": order.order_key,
        "connection": order.connection,
        "platform": order.platform,
        "order_name": order.order_name,
        "email": order.email,
        "currency": order.currency,
        "total": order.total,
        "status": order.status,
        "status_reason": order.status_reason,
        "progress": order.progress,
        "needs_attention": order.needs_attention,
        "problems": _open_problems(order),
        "version": order.version,
        "customer_number": order.customer_number,
        "invoice_number": order.invoice_number,
        "transferred_at": order.transferred_at,
        "received_at": order.received_at,
        "updated_at": order.updated_at,
    }


def _open_problems(order: Order) -> list[dict[str, Any]]:
    """What needs a person, and where its parked message waits (GET /parked on that service)."""
    state = order_status.OrderStatus.load(order.progress, order.problems)
    return [
        {
            "what": "credit" if order_status.is_credit(key) else "order",
            "service": mark.service,
            "reason": mark.reason,
            "failed_at": mark.failed_at,
            "parked_message_id": mark.message_id,
            "message_type": mark.message_type,
        }
        for key, mark in sorted(
            state.open_problems.items(), key=lambda item: str(item[1].failed_at)
        )
    ]


class OrderFilter:
    """The filters the order list and bulk replay share (query parameters)."""

    def __init__(
        self,
        status: str | None = Query(
            None, description=f"one of {', '.join(order_status.STATUSES)} (docs/orders.md)"
        ),
        needs_attention: bool | None = Query(
            None, description="true: every order with an open failure (failed, credit_failed)"
        ),
        connection: str | None = None,
        q: str | None = Query(
            None,
            description="an e-mail address or an order's name (#1001) or number, found by "
            "index; other text is searched in the order name and e-mail (a whole-table read)",
        ),
        since: datetime | None = Query(None, description="received at or after (ISO 8601)"),
        until: datetime | None = Query(None, description="received before (ISO 8601)"),
    ) -> None:
        if status is not None and status not in order_status.STATUSES:
            raise HTTPException(
                422, f"unknown status {status!r}; use one of {', '.join(order_status.STATUSES)}"
            )
        self.status, self.connection, self.q = status, connection, q
        self.needs_attention = needs_attention
        self.since, self.until = utc_time("since", since), utc_time("until", until)

    def conditions(self) -> list[ColumnElement[bool]]:
        c = orders_table.c
        found: list[ColumnElement[bool]] = []
        if self.status:
            found.append(c.status == self.status)
        if self.needs_attention is not None:
            found.append(c.needs_attention.is_(self.needs_attention))
        if self.connection:
            found.append(c.connection == self.connection)
        if self.since:
            found.append(c.received_at >= self.since)
        if self.until:
            found.append(c.received_at < self.until)
        if self.q:
            found.append(text_condition(self.q))
        return found


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def text_condition(q: str) -> ColumnElement[bool]:
    """`q` as the order list's text filter. A whole e-mail address or an order's name or
    number is looked up in an index; any other text is searched as a part of the name or
    e-mail, which reads the whole table (about 1.5 s on 100,000 orders on a busy 2-core
    machine; bench/console_pages.py)."""
    c = orders_table.c
    q = q.strip()
    if EMAIL.fullmatch(q):  # a whole address, as stored or in lower case
        return c.email.in_({q, q.lower()})
    number = q.removeprefix("#")
    if number.isdigit():
        return c.order_name.in_({q, number, f"#{number}"})
    pattern = f"%{q.lower()}%"
    return or_(func.lower(c.order_name).like(pattern), func.lower(c.email).like(pattern))


def _delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "connection": delivery.connection,
        "topic": delivery.topic,
        "delivery_id": delivery.delivery_id,
        "order_key": delivery.order_key,
        "received_at": delivery.received_at,
        "outcome": delivery.outcome,
        "order_version": delivery.order_version,
        "error": delivery.error,
        "api_version": delivery.api_version,
        "api_version_warning": delivery_version_warning(delivery.platform, delivery.api_version),
        "body_url": f"/deliveries/{delivery.id}/body",
    }


class ConnectionUpdate(BaseModel):
    platform: str
    secrets: list[str] | None = Field(
        default=None,
        description="Write-only: the webhook secrets. Give old and new during a rotation. "
        "Omitted: kept.",
    )
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)
    shop: ShopAccessUpdate | None = Field(
        default=None,
        description="The shop's Admin API access. Omitted: kept (a new connection without it "
        "uses the environment's shop, LEDGERBRIDGE_SHOPIFY_*).",
    )
    ledger: LedgerUpdate | None = Field(
        default=None,
        description="The ledger and its credentials. Omitted: kept (a new connection without it "
        "books into the environment's agreement, LEDGERBRIDGE_ECONOMIC_*).",
    )


_HOOK_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,200}")


def _check_hook_tokens(platform: str, secrets: list[str]) -> None:
    """A platform that signs nothing (Keap) is authenticated by the token in its hook URL
    alone, so the token must be unguessable and fit in a URL path."""
    if not all(_HOOK_TOKEN.fullmatch(s) for s in secrets):
        raise HTTPException(
            422,
            f"a {platform} connection's secrets become its hook URL's token: each must be 32 to "
            "200 characters of A-Z, a-z, 0-9, '-' and '_' (e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')",
        )


def _ledger_secrets(ledger: LedgerUpdate) -> dict[str, Any]:
    """The ledger part of the sealed secrets, checked against its kind (values never echoed)."""
    model = LEDGER_KINDS.get(ledger.kind)
    if model is None:
        raise HTTPException(
            422, f"unknown ledger kind {ledger.kind!r}; use one of {', '.join(LEDGER_KINDS)}"
        )
    given = {k: v.get_secret_value() for k, v in ledger.credentials.items()}
    try:
        checked = model.model_validate(given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise HTTPException(
            422, f"the {ledger.kind} credentials are incomplete: {problems}"
        ) from None
    values = {
        k: v.get_secret_value() if isinstance(v, SecretStr) else v
        for k, v in checked.model_dump().items()
    }
    return {"kind": ledger.kind, "credentials": values}


def admin_router(
    db: Database,
    shop_connections: ConnectionCache,
    reconcile_now: ReconcileNow,
    box: SecretBox,
    book: ConnectionBook,
    after_save: Callable[[str, str], Awaitable[None]] | None = None,
) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.post("/connections/{name}/reconcile")
    async def reconcile(name: str, since: datetime | None = None) -> dict[str, object]:
        """Fetch orders updated since the last run (or `since`) and feed the missing ones."""
        try:
            return (await reconcile_now(name, utc_time("since", since))).as_dict()
        except ReconcileError as exc:
            raise HTTPException(409, str(exc)) from exc

    @router.get("/reconciliations")
    async def reconciliations() -> list[dict[str, object]]:
        """Per connection: how its last reconciliation ended (when, ok or not, what it did or
        why it failed) and since when the last completed one read the shop."""
        async with db.session() as session:
            outcomes = (await session.exec(select(ReconciliationOutcome))).all()
            marks = {
                m.connection: m for m in (await session.exec(select(ReconciliationMark))).all()
            }
        return [
            {
                "connection": o.connection,
                "finished_at": o.finished_at,
                "ok": o.ok,
                "detail": o.detail,
                "last_completed_at": marks[o.connection].last_run_at
                if o.connection in marks
                else None,
            }
            for o in sorted(outcomes, key=lambda o: o.connection)
        ]

    _order = "$response.body#/orders/0/order_key"

    @router.get(
        "/orders",
        responses=links_to(
            order=Link("GET", "/orders/{order_key}", order_key=_order),
            replay=Link("POST", "/orders/{order_key}/replay", order_key=_order),
        ),
    )
    async def list_orders(
        filters: OrderFilter = Depends(),
        limit: int = limit_query(50, 500),
        offset: int = offset_query(),
    ) -> dict[str, Any]:
        where = filters.conditions()
        async with db.session() as session:
            total, orders = await with_orders(
                session, lambda repo: repo.page(where, limit=limit, offset=offset)
            )
        return {"total": total, "orders": [order_view(o) for o in orders]}

    @router.get("/orders/counts")
    async def order_counts(
        since: datetime | None = Query(None, description="received at or after (ISO 8601)"),
    ) -> dict[str, Any]:
        """How many orders each connection has in each status (one grouped count, for the
        console's overview; `/orders` tells the total of any other filter)."""
        c = orders_table.c
        query = select(c.connection, c.status, func.count()).group_by(c.connection, c.status)
        if since is not None:
            query = query.where(c.received_at >= utc_time("since", since))
        async with db.session() as session:
            rows = (await session.exec(query)).all()
        counts: dict[str, dict[str, int]] = {}
        for connection, status, n in rows:
            counts.setdefault(connection, {})[status] = int(n)
        return {"counts": counts, "total": sum(sum(v.values()) for v in counts.values())}

    @router.get("/orders/{order_key}")
    async def get_order(order_key: str) -> dict[str, Any]:
        async with db.session() as session:
            order = await with_orders(session, lambda repo: repo.get(order_key))
            if order is None:
                raise HTTPException(404, f"no order {order_key!r}")
            timeline = (
                await session.exec(
                    select(TimelineEntry)
                    .where(TimelineEntry.order_key == order_key)
                    .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
                )
            ).all()
            deliveries = (
                await session.exec(
                    select(Delivery)
                    .where(Delivery.order_key == order_key)
                    .order_by(col(Delivery.id))
                )
            ).all()
        return {
            **order_view(order),
            "order": order.canonical,
            "timeline": [
                {
                    "at": e.at,
                    "service": e.service,
                    "step": e.step,
                    "level": e.level,
                    "message": e.message,
                    "details": e.details,
                }
                for e in timeline
            ],
            "deliveries": [_delivery_view(d) for d in deliveries],
            "versions": sorted(
                {d.order_version for d in deliveries if d.order_version is not None}, reverse=True
            ),
        }

    @router.post("/orders/replay")
    async def bulk_replay(
        filters: OrderFilter = Depends(),
        dry_run: bool = False,
        limit: int = limit_query(100, 1000),
    ) -> dict[str, Any]:
        """Replay every order the filter finds (default: those that need attention), oldest
        first."""
        if filters.status is None and filters.needs_attention is None:
            filters.needs_attention = True
        where = filters.conditions()
        async with db.session() as session:
            keys = await with_orders(session, lambda repo: repo.keys(where, limit=limit))
        results = []
        for key in keys:
            outcome = await replay_order(db, key, dry_run=dry_run)
            results.append({"order_key": key, "status_code": outcome.status_code, **outcome.body})
        return {"matched": len(keys), "dry_run": dry_run, "results": results}

    @router.post("/orders/{order_key}/replay")
    async def replay(order_key: str, dry_run: bool = False) -> JSONResponse:
        outcome = await replay_order(db, order_key, dry_run=dry_run)
        return JSONResponse(outcome.body, status_code=outcome.status_code)

    @router.get(
        "/deliveries",
        responses=links_to(
            body=Link("GET", "/deliveries/{delivery_id}/body", delivery_id="$response.body#/0/id")
        ),
    )
    async def list_deliveries(
        outcome: str | None = Query(
            None, description=f"one of {', '.join(OUTCOMES)} (docs/orders.md)"
        ),
        connection: str | None = None,
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> list[dict[str, Any]]:
        if outcome is not None and outcome not in OUTCOMES:
            raise HTTPException(
                422, f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}"
            )
        query = select(Delivery).order_by(col(Delivery.id).desc())
        if outcome:
            query = query.where(Delivery.outcome == outcome)
        if connection:
            query = query.where(Delivery.connection == connection)
        async with db.session() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
        return [_delivery_view(d) for d in rows]

    @router.get("/deliveries/{delivery_id}/body")
    async def delivery_body(
        delivery_id: int = row_id_path("delivery", col(Delivery.id)),
    ) -> Response:
        async with db.session() as session:
            delivery = await session.get(Delivery, delivery_id)
        if delivery is None:
            raise HTTPException(404, f"no delivery {delivery_id}")
        return Response(delivery.body, media_type="application/json")

    @router.get("/connections")
    async def list_connections() -> list[dict[str, object]]:
        """Every connection, deleted ones too; secrets only as which ones are set."""
        async with db.session() as session:
            rows = (
                await session.exec(select(ShopConnection).order_by(col(ShopConnection.name)))
            ).all()
        return [public_view(box, c) for c in rows]

    @router.put("/connections/{name}")
    async def put_connection(name: str, update: ConnectionUpdate) -> dict[str, object]:
        """Create or change a connection: its shop, its ledger, their secrets and ingest's
        settings. Every other service gets the change within seconds (connection.changed)."""
        try:
            settings = IngestConnectionSettings.model_validate(update.settings)
        except ValidationError as exc:
            raise HTTPException(422, f"invalid settings: {exc.errors(include_url=False)}") from exc
        ledger = _ledger_secrets(update.ledger) if update.ledger is not None else None
        adapter = ADAPTERS.get(update.platform)
        if update.secrets is not None and adapter is not None and notifying(adapter) is not None:
            _check_hook_tokens(update.platform, update.secrets)
        async with db.transaction() as session:
            shop_connection = await session.get(ShopConnection, name)
            if shop_connection is None or shop_connection.deleted_at is not None:
                if not update.secrets:
                    raise HTTPException(422, "a new connection needs at least one webhook secret")
            if shop_connection is None:
                shop_connection = ShopConnection(name=name, platform=update.platform)
            secrets = opened(box, shop_connection)
            if update.secrets is not None:
                secrets["webhook_secrets"] = update.secrets
            if update.shop is not None:
                secrets["shop"] = {
                    "admin_url": update.shop.admin_url,
                    "admin_token": update.shop.admin_token.get_secret_value(),
                }
            if ledger is not None:
                secrets["ledger"] = ledger
            shop_connection.platform = update.platform
            shop_connection.enabled = update.enabled
            shop_connection.deleted_at = None
            shop_connection.settings = settings.model_dump(mode="json")
            shop_connection.revision += 1
            seal_into(box, shop_connection, secrets)
            session.add(shop_connection)
            copy = await announce(session, box, shop_connection)
        shop_connections.forget(name)
        if copy is not None:  # this process at once; other replicas within seconds
            book.apply(copy)
        if after_save is not None and shop_connection.enabled:
            await after_save(name, shop_connection.platform)  # e.g. webhook subscriptions
        return public_view(box, shop_connection)

    @router.delete("/connections/{name}")
    async def delete_connection(name: str) -> dict[str, object]:
        """Stop a connection for good and forget its secrets; its orders and deliveries stay.
        A PUT with secrets creates it again."""
        async with db.transaction() as session:
            shop_connection = await session.get(ShopConnection, name)
            if shop_connection is None:
                raise HTTPException(404, f"no connection named {name!r}")
            shop_connection.enabled = False
            shop_connection.deleted_at = shop_connection.deleted_at or utcnow()
            shop_connection.revision += 1
            seal_into(box, shop_connection, {"webhook_secrets": []})
            session.add(shop_connection)
            copy = await announce(session, box, shop_connection)
        shop_connections.forget(name)
        if copy is not None:  # this process at once; other replicas within seconds
            book.apply(copy)
        return public_view(box, shop_connection)

    @router.post("/connections/reseal")
    async def reseal() -> dict[str, int]:
        """Seal every connection's secrets with the first LEDGERBRIDGE_SECRETS_KEY (after a key
        rotation) and send every connection to the other services again."""
        count = await reseal_all(db, box)
        shop_connections.forget_all()
        await book.load()
        return {"resealed": count}

    return router
