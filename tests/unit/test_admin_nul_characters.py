"""Every admin route refuses a NUL character (which PostgreSQL's text and JSON cannot hold) with a
422 naming the parameter or body field, before the handler runs (issue #17: the fuzzer found
500s on PostgreSQL only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, SecretStr

from lb_common.admin import create_admin_app

TOKEN = "nul-test-token"


class Note(BaseModel):
    title: str
    tags: list[str] = []


@pytest.fixture
async def http() -> AsyncIterator[tuple[httpx.AsyncClient, list[Any]]]:
    reached: list[Any] = []
    router = APIRouter()

    @router.get("/notes")
    async def search(text: str = "") -> list[str]:
        reached.append(text)
        return [text]

    @router.get("/notes/{key}")
    async def read(key: str) -> dict[str, str]:
        reached.append(key)
        return {"key": key}

    @router.post("/notes")
    async def write(note: Note) -> dict[str, Any]:
        reached.append(note)
        return note.model_dump()

    app = create_admin_app(
        "test", admin_token=SecretStr(TOKEN), readiness=[], routers=[router], open_routers=[]
    )
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://admin.test", headers=headers
    ) as client:
        yield client, reached


async def test_query_parameter_with_nul_is_named(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, reached = http
    response = await client.get("/notes", params={"text": "a\x00b"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "text"]
    assert "query parameter 'text' contains a NUL character" in error["msg"]
    assert reached == []


async def test_path_parameter_with_nul_is_named(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, reached = http
    response = await client.get("/notes/k%00ey")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "key"]
    assert reached == []


async def test_body_field_with_nul_is_named_by_its_place(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, reached = http
    response = await client.post("/notes", json={"title": "ok", "tags": ["fine", "b\x00d"]})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "tags", 1]
    assert "body field 'tags.1' contains a NUL character" in error["msg"]
    assert reached == []


async def test_clean_input_and_an_escaped_backslash_pass(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, reached = http
    assert (await client.get("/notes", params={"text": "a b"})).status_code == 200
    # The text `\u0000` (a backslash, then u0000) is not a NUL character.
    written = await client.post("/notes", json={"title": "\\u0000", "tags": []})
    assert written.status_code == 200
    assert written.json()["title"] == "\\u0000"
    assert len(reached) == 2


async def test_nul_is_not_checked_before_the_token(
    http: tuple[httpx.AsyncClient, list[Any]],
) -> None:
    client, _ = http
    response = await client.get("/notes", params={"text": "\x00"}, headers={"Authorization": ""})
    assert response.status_code == 401
