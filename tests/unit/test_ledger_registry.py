"""A connection's ledger kind picks its adapter from the registry: a new kind is one package and
one line in ADAPTERS, and LedgerDirectory opens it with no other change (docs/ledger-port.md)."""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import BaseModel, ConfigDict, SecretStr

from lb_common.connection_copies import ConnectionBook, ConnectionCopy
from lb_common.db import Database
from lb_common.errors import PermanentError
from lb_common.sealing import SecretBox
from lb_common.settings import CommonSettings
from lb_connectors.economic.ledger import EconomicLedger
from lb_connectors.ledger import Ledger, StockLevel, UnknownLedgerKind, registry
from lb_connectors.ledger.registry import AdapterContext, LedgerKind
from lb_connectors.ledgers import LEDGER_KINDS, LedgerDirectory

KEY = Fernet.generate_key().decode()


class ToyCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    company: str
    token: SecretStr


class ToyLedger:
    """A ledger kind added the documented way, to show the registry's part only: it keeps
    stock in a dict, and leaves every other operation out (a real adapter has them all)."""

    def __init__(self, credentials: ToyCredentials) -> None:
        self.credentials = credentials
        self.closed = False

    @property
    def kind(self) -> str:
        return "toy"

    async def read_stock(self, items: Sequence[str]) -> dict[str, StockLevel]:
        return {i: StockLevel(item=i, on_hand=None, available=None) for i in items}

    async def aclose(self) -> None:
        self.closed = True


def _open(credentials: BaseModel, context: AdapterContext) -> Any:
    assert isinstance(credentials, ToyCredentials)
    return ToyLedger(credentials)


TOY = LedgerKind(
    kind="toy",
    label="Toy ledger",
    credentials=ToyCredentials,
    open=_open,
    pool_key=lambda c: (c.company,),  # type: ignore[attr-defined]
)


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("toy_ledger_package")
    package.LEDGER_KIND = TOY  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "toy_ledger_package", package)
    # The one registry line a new ledger adds.
    monkeypatch.setitem(registry.ADAPTERS, "toy", "toy_ledger_package:LEDGER_KIND")


def _copy(box: SecretBox, name: str, ledger: dict[str, object]) -> ConnectionCopy:
    return ConnectionCopy(
        name=name,
        revision=1,
        platform="shopify",
        enabled=True,
        deleted=False,
        ledger_kind=str(ledger["kind"]),
        sealed=box.seal(
            {"ledger": ledger, "shop": {"admin_url": "https://s.example", "admin_token": "t"}}
        ),
    )


@pytest.fixture
def book(tmp_path: Any) -> ConnectionBook:
    settings = CommonSettings(secrets_key=SecretStr(KEY))  # type: ignore[call-arg]
    box = SecretBox([KEY])
    book = ConnectionBook(Database(f"sqlite+aiosqlite:///{tmp_path}/x.db"), box, settings)
    toy = {"kind": "toy", "credentials": {"company": "c-1", "token": "s3cret"}}
    book.apply(_copy(box, "north", toy))
    book.apply(_copy(box, "east", toy))
    book.apply(
        _copy(
            box,
            "south",
            {
                "kind": "economic",
                "credentials": {
                    "base_url": "https://ledger.example",
                    "app_secret_token": "app",
                    "agreement_grant_token": "grant",
                },
            },
        )
    )
    book.apply(_copy(box, "west", {"kind": "fortnox", "credentials": {}}))
    return book


async def test_a_registered_kind_is_opened_for_its_connections_and_shared_by_company(
    toy_registered: None, book: ConnectionBook
) -> None:
    directory = LedgerDirectory(CommonSettings(secrets_key=SecretStr(KEY)), book=book)  # type: ignore[call-arg]
    north = directory.ledger("north")
    assert isinstance(north, ToyLedger) and north.credentials.company == "c-1"
    assert directory.ledger("east") is north  # one company, one adapter
    assert isinstance(directory.ledger("south"), EconomicLedger)
    assert isinstance(directory.ledger("south"), Ledger)
    assert (await north.read_stock(["A"]))["A"].item == "A"
    # Saving a connection validates its credentials by the kind's model.
    assert LEDGER_KINDS.get("toy") is ToyCredentials and "toy" in list(LEDGER_KINDS)
    # Code still on e-conomic's own API says plainly that it cannot reach this kind.
    with pytest.raises(PermanentError, match="books into a 'toy' ledger"):
        directory.for_connection("north")
    await directory.aclose()
    assert north.closed


def test_a_kind_without_an_adapter_is_refused_by_name(book: ConnectionBook) -> None:
    directory = LedgerDirectory(CommonSettings(secrets_key=SecretStr(KEY)), book=book)  # type: ignore[call-arg]
    with pytest.raises(UnknownLedgerKind, match=r"'fortnox'.*known: economic"):
        directory.ledger("west")
    assert LEDGER_KINDS.get("fortnox") is None
