"""Per-connection settings, the same way in every service: a row (connection, settings JSON) in
the service's own table, validated by the service's pydantic model, read and written through
`GET/PUT /connections/{connection}/settings`."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Select, bindparam, select
from sqlmodel import SQLModel

from lb_common.db import Database
from lb_common.unit_of_work import Sessions

M = TypeVar("M", bound=BaseModel)


async def load_settings(db: Sessions, table: type[SQLModel], model: type[M], connection: str) -> M:
    """The connection's settings; a connection never configured gets the defaults. Read in
    plain Core in one go (`read_sync`): most messages a service handles ask for them."""
    settings = await db.read_sync(functools.partial(stored_settings, table, connection))
    return model.model_validate(settings)


def stored_settings(
    table: type[SQLModel], connection: str, db_connection: Connection
) -> dict[str, Any]:
    """The connection's stored settings document ({} when none), for `read_sync` work."""
    found = db_connection.execute(_settings_of(table), {"b_connection": connection}).scalar()
    return found or {}


@functools.cache
def _settings_of(table: type[SQLModel]) -> Select[Any]:
    """The read, built once per table (building it cost more than running it)."""
    columns = table.__table__.c  # type: ignore[attr-defined]
    return select(columns.settings).where(columns.connection == bindparam("b_connection"))


def settings_router(db: Database, table: type[SQLModel], model: type[BaseModel]) -> APIRouter:
    router = APIRouter(tags=["settings"])

    @router.get("/connections/{connection}/settings")
    async def get_settings(connection: str) -> dict[str, Any]:
        return (await load_settings(db, table, model, connection)).model_dump(mode="json")

    @router.put("/connections/{connection}/settings")
    async def put_settings(connection: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the settings (omitted ones take their default; unknown names are refused)."""
        try:
            validated = model.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(422, f"invalid settings: {exc.errors(include_url=False)}") from exc
        stored = validated.model_dump(mode="json")
        async with db.transaction() as session:
            await session.merge(table(connection=connection, settings=stored))
        return stored

    return router
