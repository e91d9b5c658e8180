"""What a fetch-after-notify platform (Keap) named and where each stands (`GET /notified`):
waiting to be fetched (with the last failure's reason and when it is tried again), fetched
(with its order key), gone or unreadable (with the reason). An operator's view of "nothing
lost" between a hook and its order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import col, select

from lb_common.admin_params import limit_query, offset_query
from lb_common.db import Database
from lb_ingest.store import NotifiedObject

STATUSES = ("waiting", "fetched", "gone", "unreadable")


def router(db: Database) -> APIRouter:
    found = APIRouter(tags=["admin"])

    @found.get("/notified")
    async def list_notified(
        status: str | None = Query(None, description=f"one of {', '.join(STATUSES)}"),
        connection: str | None = None,
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> list[dict[str, Any]]:
        """Objects Keap's hooks (or reconciliation) named, newest first."""
        if status is not None and status not in STATUSES:
            raise HTTPException(422, f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        query = select(NotifiedObject).order_by(col(NotifiedObject.id).desc())
        if status:
            query = query.where(NotifiedObject.status == status)
        if connection:
            query = query.where(NotifiedObject.connection == connection)
        async with db.session() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
        return [row.model_dump(mode="json") for row in rows]

    return found
