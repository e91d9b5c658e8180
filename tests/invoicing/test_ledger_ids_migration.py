"""Migration 0008: the ledger's customer, draft, invoice and credit note numbers become text,
and the rows written before it keep their numbers as decimal text (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

import lb_invoicing
from lb_common.db import Database
from lb_common.migrations import alembic_config, migrate, schema_differences
from lb_invoicing.store import TABLES, CreditNoteLink, InvoiceLink
from tests.support.stores import Store

MIGRATIONS = Path(lb_invoicing.__file__).parent / "migrations"


async def test_int_ledger_numbers_become_their_decimal_text(store: Store) -> None:
    db = Database(await store.url("invoicing"))
    try:
        config = alembic_config(MIGRATIONS, TABLES)

        def upgrade_to_0007(conn: object) -> None:
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "0007")
            finally:
                del config.attributes["connection"]

        async with db.write_connection() as conn:
            await conn.run_sync(upgrade_to_0007)
        async with db.write_connection() as conn:
            await conn.execute(
                text(
                    "INSERT INTO invoice_links (order_key, connection, step, customer_number, "
                    "draft_invoice_number, booked_invoice_number, taxes_included, "
                    "payment_attempted, created_at, updated_at) VALUES ('shopify:s:1', 'demo', "
                    "'booked', 1001, 7, 20001, false, false, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO credit_note_links (reference, order_key, connection, step, "
                    "customer_number, draft_invoice_number, booked_invoice_number, created_at, "
                    "updated_at) VALUES ('shopify:s:1:cancel', 'shopify:s:1', 'demo', 'intent', "
                    "NULL, 8, NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )

        await migrate(db, MIGRATIONS, TABLES)

        assert await schema_differences(db, TABLES) == []
        async with db.session() as session:
            invoice = await session.get(InvoiceLink, "shopify:s:1")
            credit = await session.get(CreditNoteLink, "shopify:s:1:cancel")
        assert invoice is not None and credit is not None
        assert (
            invoice.customer_number,
            invoice.draft_invoice_number,
            invoice.booked_invoice_number,
        ) == ("1001", "7", "20001")
        assert (credit.customer_number, credit.draft_invoice_number) == (None, "8")
        # Found by its text id, as the admin API's filter asks.
        async with db.session() as session:
            found = (
                await session.exec(  # type: ignore[call-overload]
                    text("SELECT order_key FROM invoice_links WHERE customer_number = '1001'")
                )
            ).all()
        assert [row[0] for row in found] == ["shopify:s:1"]
    finally:
        await db.dispose()
