"""The generated parts of docs/ (message table, admin routes, settings) say what the code does,
and `make lint` notices when they no longer do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts import admin_routes, generate_docs, message_table
from scripts.service_parts import built_services

REPO = Path(__file__).resolve().parents[2]


def _message_rows() -> dict[str, dict[str, str]]:
    text, problems = message_table.render()
    assert problems == []
    rows = {}
    for line in text.splitlines():
        if not line.startswith("| `") or "{" not in line:
            continue
        # The payload cell holds escaped pipes (`int \| None`); split on the unescaped ones.
        cells = [c.strip() for c in line.replace("\\|", "¦").strip("|").split("|")]
        key, _, produced, consumed, _ = cells
        rows[key.strip("`")] = {"produced": produced, "consumed": consumed}
    return rows


def test_committed_docs_match_the_code():
    assert generate_docs.run(REPO, check=True) == 0, "run `make docs` and commit the result"


def test_message_table_names_who_sends_and_who_handles_each_event():
    rows = _message_rows()
    assert set(rows) == {cls.TYPE for cls in message_table.event_classes()}
    # The two facts the hand-written table once had backwards.
    assert (
        "inventory (`after_sale.handle_creditnote_booked`)" in rows["creditnote.booked"]["consumed"]
    )
    assert rows["stock.shop_reported"]["produced"].startswith("ingest (")
    assert rows["order.ready"]["produced"].startswith("ingest (`orders.py`)")
    assert "every service (`lb_common/messaging.py`" in rows["order.failed"]["produced"]
    assert (
        "customers (`resolve.py` via `DatabaseUnitOfWork.progress`)"
        in rows["order.progress"]["produced"]
    )
    # A message nobody is bound for fails at publish (mandatory); one nobody sends is dead code.
    for key, row in rows.items():
        assert row["produced"] != "**none**", f"nothing sends {key}"
        assert row["consumed"] != "**none**", f"nothing handles {key}"


def test_producer_scan_counts_making_an_event_not_reading_one(tmp_path: Path):
    source = tmp_path / "handler.py"
    source.write_text(
        "from lb_common.events import OrderReady, CustomerResolved as Resolved, InvoiceBooked\n"
        "from lb_common import events\n"
        "def handle(envelope, stored: InvoiceBooked | None = None):\n"
        "    order = envelope.parse(OrderReady).order\n"
        "    isinstance(stored, InvoiceBooked)\n"
        "    add_to_outbox(session, Envelope.wrap(Resolved(order=order, customer_number=1)))\n"
        "class Relay:\n"
        "    def emit(self):\n"
        "        return Envelope.wrap_dumped(events.OrderFailed, {}, connection='c')\n",
        encoding="utf-8",
    )
    names = {cls.__name__ for cls in message_table.event_classes()}
    sites = message_table.sites_in(source, "handler.py", names)
    assert {(s.event, s.scope) for s in sites} == {
        ("CustomerResolved", "handle"),
        ("OrderFailed", "Relay"),
    }


def test_route_tables_list_every_route_each_app_serves():
    with built_services() as services:
        for service in services:
            app = service.parts.app_factory()
            documented = {(r.method, r.path) for r in admin_routes.routes_of(service.name, app)}
            schema = {
                (method.upper(), path)
                for path, operations in app.openapi()["paths"].items()
                for method in operations
            }
            assert schema <= documented, service.name
    text, problems = admin_routes.render()
    assert problems == []
    # The webhook endpoint is a plain Starlette route (outside the schema) and open: signed.
    assert "| POST | `/webhooks/{platform}/{connection}` |  | open |" in text
    assert "| GET | `/orders` | `limit`, `offset`, `status`" in text
    assert "| token |" in text.split("| GET | `/orders` |")[1].splitlines()[0]


def test_check_fails_on_a_stale_section_and_make_docs_repairs_it(tmp_path: Path):
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    doc = tmp_path / "docs" / "architecture.md"
    original = doc.read_text(encoding="utf-8")
    stale = original.replace("inventory (`after_sale.handle_creditnote_booked`)", "**none**")
    assert stale != original
    doc.write_text(stale, encoding="utf-8")

    assert generate_docs.run(tmp_path, check=True) == 1
    assert doc.read_text(encoding="utf-8") == stale  # --check changes nothing

    assert generate_docs.run(tmp_path, check=False) == 0
    assert doc.read_text(encoding="utf-8") == original
    assert generate_docs.run(tmp_path, check=True) == 0


def test_a_doc_without_its_markers_is_an_error(tmp_path: Path):
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    doc = tmp_path / "docs" / "admin-api.md"
    doc.write_text("# HTTP API\n\nno markers here\n", encoding="utf-8")
    assert generate_docs.run(tmp_path, check=False) == 1
    with pytest.raises(ValueError, match="markers"):
        generate_docs.replace_section("text", "scripts/admin_routes.py", "table")
