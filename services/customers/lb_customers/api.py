"""The customers admin API: links, per-connection settings, debtor import and duplicates."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func
from sqlmodel import col, select

from lb_common.admin_params import (
    CUSTOMER_NUMBER_MAX,
    customer_number_query,
    limit_query,
    offset_query,
)
from lb_common.connection_settings import settings_router
from lb_common.db import Database
from lb_common.openapi_links import Link, links_to
from lb_connectors.ledgers import LedgerDirectory
from lb_customers import debtors
from lb_customers.duplicates import DuplicateGroup
from lb_customers.ledger_terms import as_shown
from lb_customers.policy import CustomerSettings
from lb_customers.store import CustomerConnectionSettings, CustomerLink


class MergeRequest(BaseModel):
    survivor: int = Field(ge=1, le=999_999_999)


class LinkUpdate(BaseModel):
    customer_number: int | str = Field(
        description="the ledger's customer id (e-conomic: its customer number)"
    )

    @field_validator("customer_number")
    @classmethod
    def _an_id(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 999_999_999:
            raise ValueError("a customer number is 1 to 999999999")
        if isinstance(value, str) and not 0 < len(value.strip()) <= 64:
            raise ValueError("a customer id is 1 to 64 characters")
        return value


class LinkView(BaseModel):
    """A link as the API shows it: a numeric customer id as a number, as it always was."""

    connection: str
    match_key: str
    customer_number: int | str
    source: str
    created_at: datetime
    merged_from: int | str | None = None

    @classmethod
    def of(cls, link: CustomerLink) -> LinkView:
        return cls(
            connection=link.connection,
            match_key=link.match_key,
            customer_number=as_shown(link.customer_number),
            source=link.source,
            created_at=link.created_at,
            merged_from=as_shown(link.merged_from) if link.merged_from is not None else None,
        )


def admin_router(db: Database) -> APIRouter:
    router = APIRouter(tags=["admin"])

    _link = {
        "connection": "$response.body#/0/connection",
        "match_key": "$response.body#/0/match_key",
    }

    @router.get(
        "/links",
        responses=links_to(
            relink=Link("PUT", "/links/{connection}/{match_key}", **_link),
            forget=Link("DELETE", "/links/{connection}/{match_key}", **_link),
            settings=Link(
                "GET", "/connections/{connection}/settings", connection=_link["connection"]
            ),
        ),
    )
    async def list_links(
        connection: str | None = None,
        customer_number: int | None = customer_number_query(),
        q: str | None = Query(None, max_length=200, description="part of the match key"),
        limit: int = limit_query(200, 1000),
        offset: int = offset_query(),
    ) -> list[LinkView]:
        """Buyers (by match key) and the ledger customer each is invoiced to."""
        query = select(CustomerLink).order_by(
            col(CustomerLink.connection), col(CustomerLink.match_key)
        )
        if connection:
            query = query.where(CustomerLink.connection == connection)
        if customer_number is not None:
            query = query.where(CustomerLink.customer_number == str(customer_number))
        if q:
            query = query.where(func.lower(col(CustomerLink.match_key)).contains(q.strip().lower()))
        async with db.session() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
        return [LinkView.of(link) for link in rows]

    @router.put("/links/{connection}/{match_key}")
    async def put_link(connection: str, match_key: str, update: LinkUpdate) -> LinkView:
        """Point a buyer at another ledger customer; later orders use it."""
        link = CustomerLink(
            connection=connection,
            match_key=match_key,
            customer_number=str(update.customer_number).strip(),
            source="manual",
        )
        async with db.transaction() as session:
            await session.merge(link)
        return LinkView.of(link)

    @router.delete("/links/{connection}/{match_key}")
    async def delete_link(connection: str, match_key: str) -> dict[str, Any]:
        """Forget a buyer's link: their next order (or a replay) finds or creates the customer
        again, e.g. when the linked customer number now belongs to someone else."""
        async with db.transaction() as session:
            link = await session.get(CustomerLink, (connection, match_key))
            if link is None:
                raise HTTPException(404, f"no link {match_key!r} on connection {connection!r}")
            await session.delete(link)
        return {"deleted": match_key, "customer_number": as_shown(link.customer_number)}

    router.include_router(settings_router(db, CustomerConnectionSettings, CustomerSettings))

    return router


def _group_view(group: DuplicateGroup, merged: dict[int, int]) -> dict[str, Any]:
    return {
        **asdict(group),
        "merged_into": {str(n): merged[n] for n in group.customer_numbers if n in merged},
    }


def debtors_router(db: Database, ledgers: LedgerDirectory) -> APIRouter:
    """Import the ledger's customers into the debtor index; duplicates and link suggestions."""
    router = APIRouter(tags=["debtors"])

    @router.post("/connections/{connection}/import-debtors")
    async def import_debtors(connection: str) -> dict[str, Any]:
        """Read every ledger customer (all pages) into the index; safe to repeat."""
        async with db.session() as session:
            row = await session.get(CustomerConnectionSettings, connection)
        settings = CustomerSettings.model_validate(row.settings if row else {})
        report = await debtors.import_debtors(
            ledgers.ledger(connection),
            db,
            connection,
            home_country=settings.vat_zones.home_country,
        )
        return {
            **asdict(report),
            "note": "Read only: nothing was changed in e-conomic.",
        }

    @router.get(
        "/connections/{connection}/duplicates",
        responses=links_to(
            merge=Link(
                "POST",
                "/connections/{connection}/duplicates/{group_id}/merge",
                connection="$request.path.connection",
                group_id="$response.body#/groups/0/id",
            )
        ),
    )
    async def list_duplicates(
        connection: str,
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> dict[str, Any]:
        """Candidate duplicate groups in the imported index, with the evidence (`total`
        groups in all, `limit` from `offset` shown)."""
        groups = await debtors.duplicate_groups(db, connection)
        merged = await debtors.merges(db, connection)
        return {
            "total": len(groups),
            "groups": [_group_view(g, merged) for g in groups[offset : offset + limit]],
            "note": "Found in the imported index (import again to refresh). Merging changes "
            "nothing in e-conomic.",
        }

    @router.post("/connections/{connection}/duplicates/{group_id}/merge")
    async def merge(connection: str, group_id: str, body: MergeRequest) -> dict[str, Any]:
        """Book future orders of the group's customers on the survivor; links follow."""
        try:
            result = await debtors.merge_duplicates(db, connection, group_id, body.survivor)
        except LookupError as exc:
            raise HTTPException(
                404, f"No duplicate group {group_id} for {connection} (import again?)."
            ) from exc
        except debtors.MergeError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {
            "group": result.group.id,
            "rule": result.group.rule,
            "survivor": result.survivor,
            "merged": list(result.merged),
            "links_repointed": result.links_repointed,
            "message": f"Future orders that find customer(s) "
            f"{', '.join(str(n) for n in result.merged)} are booked on customer "
            f"{result.survivor}. {debtors.LEDGER_UNTOUCHED}",
        }

    @router.get("/connections/{connection}/debtors")
    async def list_debtors(
        connection: str,
        customer_number: list[int] = Query(
            [], description="only these customer numbers (repeat the parameter)", max_length=1000
        ),
        q: str | None = Query(None, max_length=200, description="part of the name or email"),
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> dict[str, Any]:
        """The imported ledger customers (`total` matching, `limit` from `offset` shown)."""
        if any(not 1 <= n <= CUSTOMER_NUMBER_MAX for n in customer_number):
            raise HTTPException(422, f"customer_number: 1 to {CUSTOMER_NUMBER_MAX}")
        found = await debtors.debtor_page(
            db, connection, numbers=customer_number, text=q, limit=limit, offset=offset
        )
        return {
            "total": found.total,
            "debtors": [
                {**e.model_dump(mode="json"), "customer_number": as_shown(e.customer_number)}
                for e in found.entries
            ],
            "note": "As last imported (import again to refresh).",
        }

    @router.get("/connections/{connection}/merges")
    async def list_merges(
        connection: str,
        limit: int = limit_query(1000, 10_000),
        offset: int = offset_query(),
    ) -> dict[str, Any]:
        merged = sorted((await debtors.merges(db, connection)).items())
        return {
            "total": len(merged),
            "merges": [{"merged": n, "survivor": s} for n, s in merged[offset : offset + limit]],
            "note": debtors.LEDGER_UNTOUCHED,
        }

    @router.get("/connections/{connection}/suggestions")
    async def list_suggestions(
        connection: str,
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> list[dict[str, Any]]:
        """Links whose email/phone/CVR/EAN other imported customers carry too."""
        found = await debtors.suggestions(db, connection)
        return [asdict(s) for s in found[offset : offset + limit]]

    return router
