"""Which credentials a connection's calls use, and what happens to work for a connection that is
disabled, deleted or not known yet (lb_common/connection_copies.py, lb_connectors/ledgers.py,
shops.py, lb_common/sealing.py)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from lb_common.connection_copies import (
    ConnectionBook,
    ConnectionCopy,
    ConnectionDisabled,
    ConnectionNotYetKnown,
)
from lb_common.db import Database
from lb_common.sealing import SealError, SecretBox
from lb_common.settings import CommonSettings
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory

KEY = Fernet.generate_key().decode()


def _ledger(grant: str) -> dict[str, object]:
    return {
        "kind": "economic",
        "credentials": {
            "base_url": "https://ledger.example",
            "app_secret_token": "app",
            "agreement_grant_token": grant,
        },
    }


def _copy(box: SecretBox, name: str, *, grant: str, shop: str, **flags: bool) -> ConnectionCopy:
    sealed = box.seal(
        {"ledger": _ledger(grant), "shop": {"admin_url": "https://s.example", "admin_token": shop}}
    )
    return ConnectionCopy(
        name=name,
        revision=1,
        platform="shopify",
        enabled=flags.get("enabled", True),
        deleted=flags.get("deleted", False),
        ledger_kind="economic",
        sealed=sealed,
    )


@pytest.fixture
def settings() -> CommonSettings:
    return CommonSettings(
        secrets_key=SecretStr(KEY),
        environment_connections="demo",
        economic_agreement_grant_token=SecretStr("env-grant"),
    )


@pytest.fixture
async def book(settings: CommonSettings, tmp_path) -> ConnectionBook:
    box = SecretBox([KEY])
    book = ConnectionBook(Database(f"sqlite+aiosqlite:///{tmp_path}/x.db"), box, settings)
    book.apply(_copy(box, "north", grant="grant-a", shop="token-a"))
    book.apply(_copy(box, "east", grant="grant-a", shop="token-e"))
    book.apply(_copy(box, "south", grant="grant-b", shop="token-b"))
    book.apply(_copy(box, "paused", grant="grant-b", shop="token-b", enabled=False))
    book.apply(_copy(box, "gone", grant="grant-b", shop="token-b", deleted=True))
    return book


async def test_connections_on_one_agreement_share_its_client_and_shops_are_apart(
    settings: CommonSettings, book: ConnectionBook
):
    ledgers = LedgerDirectory(settings, book=book)
    shops = ShopDirectory(settings, book=book)
    try:
        assert ledgers.for_connection("north") is ledgers.for_connection("east")
        assert ledgers.for_connection("north") is not ledgers.for_connection("south")
        assert ledgers.credentials_for("south").agreement_grant_token.get_secret_value() == (
            "grant-b"
        )
        assert shops.access_for("north").token == "token-a"
        assert shops.for_connection("north") is not shops.for_connection("south")
        # The demo connection (allowed to) uses the environment's agreement.
        env = ledgers.credentials_for("demo").agreement_grant_token.get_secret_value()
        assert env == "env-grant"
    finally:
        await ledgers.aclose()
        await shops.aclose()


def test_work_of_a_disabled_or_deleted_connection_is_parked_with_what_to_do(
    settings: CommonSettings, book: ConnectionBook
):
    ledgers = LedgerDirectory(settings, book=book)
    with pytest.raises(ConnectionDisabled, match="'paused' is disabled: enable it"):
        ledgers.for_connection("paused")
    with pytest.raises(ConnectionDisabled, match="'gone' was deleted"):
        ledgers.for_connection("gone")
    assert not book.is_active("paused") and book.is_active("north")


def test_an_unknown_connection_waits_unless_it_may_use_the_environment(
    settings: CommonSettings, book: ConnectionBook
):
    ledgers = LedgerDirectory(settings, book=book)
    with pytest.raises(ConnectionNotYetKnown):
        ledgers.for_connection("west")
    anyone = settings.model_copy(update={"environment_connections": "*"})
    lenient = ConnectionBook(book._db, SecretBox([KEY]), anyone)
    assert LedgerDirectory(anyone, book=lenient).credentials_for("west").base_url == (
        settings.economic_base_url
    )


def test_a_rotated_key_opens_old_seals_and_reseals_them_under_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretBox([old]).seal({"token": "s3cret"})
    both = SecretBox([new, old])
    assert both.open(sealed) == {"token": "s3cret"}
    resealed = both.reseal(sealed)
    assert SecretBox([new]).open(resealed) == {"token": "s3cret"}
    with pytest.raises(SealError) as refused:
        SecretBox([new]).open(sealed)
    assert "s3cret" not in str(refused.value) and "LEDGERBRIDGE_SECRETS_KEY" in str(refused.value)


def test_a_malformed_key_is_refused_with_how_to_make_one():
    with pytest.raises(ValueError, match=r"Fernet\.generate_key"):
        SecretBox(["not-a-key"])
