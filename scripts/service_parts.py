"""Each service's composition root, built the way it runs but never started: for the doc
generators, which read the handler map and the FastAPI app from it.

Building is safe offline: `bootstrap()` opens no connection (the broker connects when the
runtime starts). The databases are in-memory SQLite, because a SQLite file gets a checkpointer
thread as soon as its `Database` exists; the data folder is a temporary one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lb_common.runtime import ServiceParts
from lb_common.settings import CommonSettings, ServiceSettings
from lb_customers.bootstrap import bootstrap as customers_bootstrap
from lb_customers.settings import CustomersSettings
from lb_ingest.bootstrap import bootstrap as ingest_bootstrap
from lb_ingest.settings import IngestSettings
from lb_inventory.bootstrap import bootstrap as inventory_bootstrap
from lb_inventory.settings import InventorySettings
from lb_invoicing.bootstrap import bootstrap as invoicing_bootstrap
from lb_invoicing.settings import InvoicingSettings

# The services in the order the docs list them (the order an order travels).
SERVICES = ("ingest", "customers", "invoicing", "inventory")


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    parts: ServiceParts


@contextmanager
def built_services() -> Iterator[list[Service]]:
    """Every service's `ServiceParts`, built with default settings over a throwaway data folder."""
    with tempfile.TemporaryDirectory(prefix="lb-docs-") as tmp:
        common = CommonSettings(data_dir=Path(tmp))
        memory = "sqlite+aiosqlite:///:memory:"
        ingest = IngestSettings(common=common, database_url=memory)
        customers = CustomersSettings(common=common, database_url=memory)
        invoicing = InvoicingSettings(common=common, database_url=memory)
        inventory = InventorySettings(common=common, database_url=memory)
        built: list[tuple[ServiceSettings, ServiceParts]] = [
            (ingest, ingest_bootstrap(ingest)),
            (customers, customers_bootstrap(customers)),
            (invoicing, invoicing_bootstrap(invoicing)),
            (inventory, inventory_bootstrap(inventory)),
        ]
        # The documented port is the default, not whatever this shell's environment says.
        yield [
            Service(parts.name, int(type(s).model_fields["port"].default), parts)
            for s, parts in built
        ]
