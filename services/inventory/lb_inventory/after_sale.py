"""After an invoice is booked: read the ledger's stock for the products sold, so the shop can
follow within seconds instead of at the next full sync."""

from __future__ import annotations

from lb_common import inbox
from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import InvoiceBooked, OrderProgress
from lb_common.outbox import add_to_outbox
from lb_connectors.ledgers import LedgerDirectory
from lb_inventory.store import StockLevel

SERVICE = "inventory"


async def handle_invoice_booked(
    envelope: Envelope, *, db: Database, ledgers: LedgerDirectory
) -> None:
    event = envelope.parse(InvoiceBooked)
    client = ledgers.for_connection(envelope.connection)
    product_numbers = sorted({line.product_number for line in event.lines})
    levels: dict[str, tuple[str | None, str | None]] = {}
    for number in product_numbers:
        product = await client.get_product(number)
        inventory = product.inventory if product is not None else None
        levels[number] = (
            str(inventory.available) if inventory and inventory.available is not None else None,
            str(inventory.in_stock) if inventory and inventory.in_stock is not None else None,
        )

    async with db.transaction() as session:
        for number, (available, in_stock) in levels.items():
            row = await session.get(StockLevel, (envelope.connection, number))
            if row is None:
                row = StockLevel(connection=envelope.connection, product_number=number)
            row.available, row.in_stock = available, in_stock
            row.last_order_key = event.order_key
            row.read_at = utcnow()
            session.add(row)
        tracked = {n: a for n, (a, _) in levels.items() if a is not None}
        summary = ", ".join(f"{n}: {a} available" for n, a in tracked.items())
        add_to_outbox(
            session,
            Envelope.wrap(
                OrderProgress(
                    service=SERVICE,
                    step="stock.read",
                    message=f"Stock read from e-conomic after the sale ({summary})."
                    if tracked
                    else "No stock-tracked products on this invoice.",
                    details={"levels": {n: a for n, (a, _) in levels.items()}},
                ),
                connection=envelope.connection,
                order_key=event.order_key,
                caused_by=envelope,
            ),
        )
        inbox.mark_handled(session, SERVICE, envelope.message_id)
