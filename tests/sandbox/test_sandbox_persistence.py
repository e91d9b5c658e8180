"""With a state file (as `make up` runs it), the sandbox's ledger survives a restart: the
services' links and invoices keep pointing at the customers and documents they were made for,
and new customers get new numbers rather than the old ones again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_sandbox_economic import CUSTOMER, decimal_json, draft

from lb_sandbox.app import create_app
from lb_sandbox.persistence import SandboxStateError
from lb_sandbox.settings import SandboxSettings

HEADERS = {"X-AppSecretToken": "app", "X-AgreementGrantToken": "grant-kept"}


def sandbox(state_file: Path | None) -> httpx.AsyncClient:
    app = create_app(SandboxSettings(rate_limit_tokens=1_000_000, state_file=state_file))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test", headers=HEADERS
    )


async def state(http: httpx.AsyncClient) -> Any:
    return decimal_json(await http.get("/_sandbox/agreements/grant-kept/state"))


async def test_a_restarted_sandbox_has_the_ledger_it_left(tmp_path: Path) -> None:
    state_file = tmp_path / "data" / "sandbox-ledger.json"
    async with sandbox(state_file) as first:
        assert state_file.exists()  # at once: from then on, no file means a lost ledger
        karen = {**CUSTOMER, "name": "Karen Jensen", "email": "karen@example.com"}
        assert (await first.post("/economic/customers", json=karen)).status_code == 201
        assert (await first.post("/economic/invoices/drafts", json=draft(1, "o-1"))).is_success
        booked = await first.post(
            "/economic/invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}}
        )
        assert booked.status_code == 201
        await first.post("/economic/invoices/drafts", json=draft(1, "o-2"))  # left as a draft
        before = await state(first)

    async with sandbox(state_file) as second:
        assert await state(second) == before  # the same records, amounts as exact as before
        [customer] = (await second.get("/economic/customers")).json()["collection"]
        assert (customer["customerNumber"], customer["email"]) == (1, "karen@example.com")
        found = await second.get(
            "/economic/invoices/booked", params={"filter": "references.other$eq:o-1"}
        )
        assert [b["bookedInvoiceNumber"] for b in found.json()["collection"]] == [1]
        mug = decimal_json(await second.get("/economic/products/MUG-BLACK"))
        assert mug["inventory"]["inStock"] == 17  # 20 seeded, 3 sold on the booked invoice

        # Numbers go on from where they were: the next buyer is customer 2, not a second 1.
        bo = await second.post("/economic/customers", json={**CUSTOMER, "name": "Bo"})
        assert bo.json()["customerNumber"] == 2
        booked = await second.post(
            "/economic/invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 2}}
        )
        assert booked.json()["bookedInvoiceNumber"] == 2
        again = await second.post(  # the draft booked before the restart is still gone
            "/economic/invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}}
        )
        assert again.status_code == 404


async def test_a_reset_is_kept_too(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-ledger.json"
    async with sandbox(state_file) as first:
        await first.post("/economic/customers", json=CUSTOMER)
        await first.post("/_sandbox/reset", params={"agreement": "grant-kept"})
    async with sandbox(state_file) as second:
        assert (await second.get("/_sandbox/agreements/grant-kept/state")).status_code == 404


async def test_an_unreadable_state_file_stops_the_sandbox_with_what_to_do(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-ledger.json"
    state_file.write_text("{ half a file")
    with pytest.raises(SandboxStateError) as raised:
        create_app(SandboxSettings(state_file=state_file))
    assert str(state_file) in str(raised.value)
    assert "empty data folder" in str(raised.value)


async def test_without_a_state_file_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with sandbox(None) as http:
        assert (await http.post("/economic/customers", json=CUSTOMER)).status_code == 201
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
