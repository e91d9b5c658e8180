"""An admin call that meets a database connection the server dropped (a PostgreSQL restart
between the pool's check and the statement, lb_common/db.py) answers a clear 503 with
`Retry-After`; any other database error is still a 500."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from lb_common.admin import create_admin_app


def _app() -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/lost")
    async def lost() -> None:
        raise DBAPIError(
            "SELECT 1", None, OSError("connection is closed"), connection_invalidated=True
        )

    @router.get("/broken")
    async def broken() -> None:
        raise DBAPIError("SELECT 1", None, OSError("syntax error"))

    app = create_admin_app("svc", admin_token=SecretStr("t"), readiness=[], routers=[router])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url="http://svc", headers={"Authorization": "Bearer t"}
    )


async def test_a_lost_database_connection_is_a_503_to_try_again():
    async with _app() as http:
        response = await http.get("/lost")
    assert response.status_code == 503
    assert response.json() == {"detail": "the database connection was lost; try again"}
    assert response.headers["Retry-After"] == "1"


async def test_any_other_database_error_is_still_a_500():
    async with _app() as http:
        response = await http.get("/broken")
    assert response.status_code == 500
