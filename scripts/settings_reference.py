"""Print the environment-variable reference (a Markdown table) from the pydantic-settings classes.

    .venv/bin/python scripts/settings_reference.py                  # environment variables
    .venv/bin/python scripts/settings_reference.py --connections    # per-connection settings
    .venv/bin/python scripts/settings_reference.py --check docs/configuration.md

The meaning of each variable is the field's `description` if it has one, else the operator-facing
text in `MEANINGS` below, else the comment written above (or beside) the field in its settings
class. A field with none of the three is reported on stderr (exit 1), so a new setting cannot slip
past the docs unnoticed.
`--check` exits 1 when the file does not contain the current output verbatim. `make docs`
(scripts/generate_docs.py) writes both outputs into docs/configuration.md, and `make lint` checks
them there.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import json
import sys
import textwrap
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from lb_common.settings import CommonSettings, ServiceSettings
from lb_connectors.quickbooks.settings import QuickBooksSettings
from lb_console.settings import ConsoleSettings
from lb_customers.settings import CustomersSettings
from lb_ingest.settings import IngestSettings
from lb_inventory.settings import InventorySettings
from lb_invoicing.settings import InvoicingSettings
from lb_sandbox.settings import SandboxSettings

# Operator-facing meanings, keyed by environment variable name; they win over code comments, which
# are written for developers. `*` stands for the service part (INGEST, CUSTOMERS, ...).
MEANINGS: dict[str, str] = {
    "LEDGERBRIDGE_BROKER_PREFIX": "First part of every exchange and queue name "
    "(`<prefix>.events`, `<prefix>.<service>`, ...). Deployments sharing a RabbitMQ vhost need "
    "different prefixes.",
    "LEDGERBRIDGE_DELIVERY_LIMIT": "Redeliveries of one message (consumer crashes, lost "
    "connections) before RabbitMQ dead-letters it to the parking queue. Changing it on an "
    "existing work queue needs the queue deleted first.",
    "LEDGERBRIDGE_AMQP_URL": "RabbitMQ connection URL (user and password included: a secret).",
    "LEDGERBRIDGE_DATA_DIR": "Folder for the SQLite files of services without a database URL.",
    "LEDGERBRIDGE_HOST": "Address the admin API and webhooks listen on (`0.0.0.0` in containers).",
    "LEDGERBRIDGE_LOG_LEVEL": "Python log level: DEBUG, INFO, WARNING, ERROR.",
    "LEDGERBRIDGE_LOG_JSON": "One JSON object per log line (with order key and correlation id); "
    "false: plain text.",
    "LEDGERBRIDGE_ECONOMIC_BASE_URL": "e-conomic REST API base URL used by customers, invoicing "
    "and inventory; the default is the local sandbox, `https://restapi.e-conomic.com` for the "
    "real one.",
    "LEDGERBRIDGE_ECONOMIC_APP_SECRET_TOKEN": "e-conomic `X-AppSecretToken` (identifies the app).",
    "LEDGERBRIDGE_ECONOMIC_AGREEMENT_GRANT_TOKEN": "e-conomic `X-AgreementGrantToken` (the "
    "agreement's grant to the app).",
    "LEDGERBRIDGE_*_PORT": "Port of the service's HTTP server (admin API, health, metrics; "
    "webhooks on ingest).",
    "LEDGERBRIDGE_*_DATABASE_URL": "SQLAlchemy async URL of the service's database, e.g. "
    "`postgresql+asyncpg://user:pass@host:5432/invoicing`. Unset: SQLite file "
    "`<LEDGERBRIDGE_DATA_DIR>/<service>.db`.",
    "LEDGERBRIDGE_INGEST_MAX_BODY_BYTES": "Largest webhook body accepted (bytes); larger: 413.",
    "LEDGERBRIDGE_INGEST_SEED_DEMO_CONNECTION": "Create the `demo` Shopify connection at start-up "
    "unless it exists (webhooks signed with the demo secret). Turn off in production; turning it "
    "off later does not delete a `demo` connection already created.",
    "LEDGERBRIDGE_DEMO_SHOPIFY_SECRET": "Webhook secret of the seeded `demo` connection (also read "
    "as `LEDGERBRIDGE_INGEST_DEMO_SHOPIFY_SECRET`).",
    "LEDGERBRIDGE_INVOICING_SEED_DEMO_CONNECTION": "Store the `demo` connection's invoice settings "
    "(lines without SKU on product `WEB-DEFAULT`, layout 21) at start-up unless present.",
    "LEDGERBRIDGE_SANDBOX_RATE_LIMIT_TOKENS": "Size of the sandbox's token bucket per agreement "
    "(e-conomic's `X-RateLimiting`).",
    "LEDGERBRIDGE_SHOPIFY_ACCESS_TOKEN": "Shopify Admin API access token used with "
    "`LEDGERBRIDGE_SHOPIFY_ADMIN_BASE_URL`.",
    "LEDGERBRIDGE_SANDBOX_SHOPIFY_BUCKET_CAPACITY": "Depth of the emulated Shopify Admin API's "
    "leaky bucket per shop (Shopify's standard plans: 40).",
    "LEDGERBRIDGE_SANDBOX_SHOPIFY_LEAK_PER_SECOND": "Requests per second the emulated Shopify "
    "bucket drains (Shopify's standard plans: 2).",
    "LEDGERBRIDGE_SANDBOX_DEMO_WRITABLE": "Let the `demo` agreement write (real e-conomic's demo "
    "agreement is read-only).",
    "LEDGERBRIDGE_SANDBOX_HOST": "Address the sandbox listens on.",
    "LEDGERBRIDGE_SANDBOX_PORT": "Port of the sandbox.",
    "LEDGERBRIDGE_SANDBOX_CALL_COST": "Tokens each call costs (e-conomic's `X-CallCost`).",
    "LEDGERBRIDGE_SANDBOX_IDEMPOTENCY_TTL_SECONDS": "How long the sandbox remembers an "
    "`Idempotency-Key` and its answer.",
    "LEDGERBRIDGE_SANDBOX_RATE_LIMIT_WINDOW_SECONDS": "Window of the rate-limit token bucket.",
    "LEDGERBRIDGE_SANDBOX_IDEMPOTENT_POST": "Answer a POST repeated with the same "
    "`Idempotency-Key` from the cache, as e-conomic documents for its newer APIs. Unconfirmed "
    "for restapi (a live check showed it for DELETE only), so off: a repeated POST runs again, "
    "the stricter case the recovery tests run against. PUT and DELETE replay always.",
}

SERVICES: tuple[tuple[str, type[ServiceSettings]], ...] = (
    ("ingest", IngestSettings),
    ("customers", CustomersSettings),
    ("invoicing", InvoicingSettings),
    ("inventory", InventorySettings),
    ("console", ConsoleSettings),
)


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the comment above it (contiguous `#` lines) or at the end of its line."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    out: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        above: list[str] = []
        i = node.lineno - 2
        while i >= 0 and lines[i].strip().startswith("#"):
            above.insert(0, lines[i].strip().lstrip("#").strip())
            i -= 1
        end = lines[(node.end_lineno or node.lineno) - 1]
        beside = end.split("  # ", 1)[1].strip() if "  # " in end else ""
        text = " ".join([*above, beside]).strip()
        if text:
            out[node.target.id] = text
    return out


def _env_names(prefix: str, name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    return [f"{prefix}{name}".upper()]


def _default(field: FieldInfo, cls: type[BaseSettings], name: str, service: str | None) -> str:
    if name == "database_url":
        return f"unset (SQLite `<data dir>/{service}.db`)"
    if field.default is PydanticUndefined and field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list):
        value = "[" + ",".join(str(v) for v in value) + "]"
    return f"`{value}`"


def _kind(field: FieldInfo) -> str:
    annotation = str(field.annotation)
    secret = "SecretStr" in annotation
    return " (secret)" if secret else ""


def _meaning(env: str, name: str, field: FieldInfo, comments: dict[str, str]) -> str | None:
    if field.description:
        return field.description
    if env in MEANINGS:
        return MEANINGS[env]
    parts = env.split("_")
    wildcard = "_".join([parts[0], "*", *parts[2:]]) if len(parts) >= 3 else ""
    if wildcard in MEANINGS:
        return MEANINGS[wildcard]
    return comments.get(name)


def _rows(cls: type[BaseSettings], service: str | None, missing: list[str]) -> list[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if (
            isinstance(klass, type)
            and issubclass(klass, BaseSettings)
            and klass is not BaseSettings
        ):
            comments.update(_comments(klass))
    rows = []
    for name, field in cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            continue  # nested settings (ServiceSettings.common) are listed on their own
        envs = _env_names(prefix, name, field)
        meaning = _meaning(envs[0], name, field, comments)
        if meaning is None:
            missing.append(envs[0])
            meaning = ""
        names = " or ".join(f"`{e}`" for e in envs)
        rows.append(
            f"| {names}{_kind(field)} | {_default(field, cls, name, service)} | {meaning} |"
        )
    return rows


HEADER = ["| variable | default | meaning |", "|---|---|---|"]


def render_environment() -> tuple[str, list[str]]:
    missing: list[str] = []
    out: list[str] = []
    out.append("### Every service (`CommonSettings`, prefix `LEDGERBRIDGE_`)")
    out.append("")
    out += HEADER + _rows(CommonSettings, None, missing)
    for service, cls in SERVICES:
        out.append("")
        prefix = str(cls.model_config.get("env_prefix", ""))
        out.append(f"### {service} (`{cls.__name__}`, prefix `{prefix}`)")
        out.append("")
        out += HEADER + _rows(cls, service, missing)
    out.append("")
    out.append(
        "### QuickBooks adapter, in every service booking into QuickBooks "
        "(`QuickBooksSettings`, prefix `LEDGERBRIDGE_QUICKBOOKS_`)"
    )
    out.append("")
    out += HEADER + _rows(QuickBooksSettings, None, missing)
    out.append("")
    out.append("### sandbox (`SandboxSettings`, prefix `LEDGERBRIDGE_SANDBOX_`)")
    out.append("")
    out += HEADER + _rows(SandboxSettings, None, missing)
    return "\n".join(out) + "\n", missing


# --- per-connection settings (stored by each service, edited through its admin API) ------------

# Meanings for connection settings whose model documents them nowhere, keyed by dotted path.
SETTING_MEANINGS: dict[str, str] = {
    "transfer": "When an order is sent on to the ledger, and which orders never are.",
    "customer_fields": "Where the shop's checkout puts the buyer's VAT (CVR) and EAN numbers.",
    "transfer.trigger": "When an order goes on to the ledger: when created, when paid, or when "
    "fulfilled.",
    "transfer.gateway_triggers": "A different trigger per payment gateway, e.g. "
    '`{"Cash on Delivery (COD)": "fulfilled"}` (names match case-insensitively).',
    "transfer.skip_test_orders": "Do not transfer the shop's test orders.",
    "transfer.excluded_gateways": "Orders paid through these gateways are not transferred.",
    "transfer.excluded_sources": "Orders from these sales channels (e.g. `pos`) are not "
    "transferred.",
    "customer_fields.shopify_vat_attributes": "Shopify order note attributes that may hold the "
    "buyer's VAT (CVR) number; first non-empty match wins.",
    "customer_fields.shopify_ean_attributes": "Shopify order note attributes that may hold the "
    "buyer's EAN number.",
    "customer_fields.woocommerce_vat_meta_keys": "WooCommerce order meta keys that may hold the "
    "VAT (CVR) number.",
    "customer_fields.woocommerce_ean_meta_keys": "WooCommerce order meta keys that may hold the "
    "EAN number.",
    "customer_fields.billing_company_is_b2b": "A company name in the billing address alone makes "
    "the buyer B2B (off: consumers often fill in the company field).",
    "unknown_product": "A line whose SKU is no product (or a barred one) in e-conomic: `fail` "
    "(order parked with the reason) or book it on `default_product`.",
    "missing_sku": "A line without a SKU: `fail` or book it on `default_product`.",
    "default_product": "e-conomic product number for the two cases above.",
    "shipping_product": "e-conomic product number shipping lines are booked on.",
    "credit_notes": "Turn refunds and cancellations after transfer into credit notes (false: "
    "they are only noted on the order's timeline).",
    "total_product": "e-conomic product number for the one total line (with lines = one_total).",
    "refund_product": "e-conomic product number for amount-only refunds (no lines); unset: "
    "`default_product`; neither: such a refund fails with the reason.",
    "book": "Book the invoice (true) or leave the draft for a bookkeeper (false).",
}


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (Union, UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_type_name(a) for a in inner)
        return f"{text} or null" if len(inner) < len(args) else text
    if origin in (tuple, list, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "object"
        return {"str": "text", "int": "integer", "bool": "true/false", "Decimal": "decimal"}.get(
            annotation.__name__, annotation.__name__
        )
    alias_value = getattr(annotation, "__value__", None)  # `type X = ...` aliases
    return _type_name(alias_value) if alias_value is not None else str(annotation)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    candidates = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    for candidate in (annotation, *candidates):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _json_default(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, frozenset | set):
        value = sorted(value)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except TypeError:
        text = str(value)
    return f"`{text}`"


def _model_comments(cls: type[BaseModel]) -> dict[str, str]:
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            with contextlib.suppress(OSError, TypeError, IndexError, SyntaxError):
                comments.update(_comments(klass))
    return comments


def _setting_rows(
    cls: type[BaseModel], instance: BaseModel | None, path: str, missing: list[str]
) -> list[str]:
    rows = []
    comments = _model_comments(cls)
    for name, field in cls.model_fields.items():
        dotted = f"{path}{name}"
        if instance is not None:
            value: Any = getattr(instance, name)
        elif field.default is PydanticUndefined and field.default_factory is not None:
            value = field.default_factory()  # type: ignore[call-arg]
        else:
            value = field.default
        meaning = field.description or SETTING_MEANINGS.get(dotted) or comments.get(name)
        if meaning is None:
            missing.append(dotted)
            meaning = ""
        meaning = " ".join(meaning.split()).replace("|", "\\|")
        nested = _model_in(field.annotation)
        if nested is not None:
            if value is None:
                rows.append(f"| `{dotted}` | object or null | unset | {meaning} |")
            else:
                rows.append(f"| `{dotted}` | object | see below | {meaning} |")
            sub = value if isinstance(value, BaseModel) else None
            rows += _setting_rows(nested, sub, f"{dotted}.", missing)
            continue
        if value is PydanticUndefined:
            default = "required"
        elif value is None:
            default = "unset"
        else:
            default = _json_default(value)
        rows.append(f"| `{dotted}` | {_type_name(field.annotation)} | {default} | {meaning} |")
    return rows


SETTING_HEADER = ["| setting | type | default | meaning |", "|---|---|---|---|"]


def render_connections() -> tuple[str, list[str]]:
    from lb_customers.policy import CustomerSettings
    from lb_ingest.connections import IngestConnectionSettings
    from lb_invoicing.policy import InvoiceSettings

    missing: list[str] = []
    parts: list[tuple[str, type[BaseModel]]] = [
        (
            "ingest: `settings` of `PUT /connections/{name}` (`IngestConnectionSettings`)",
            IngestConnectionSettings,
        ),
        ("customers: `PUT /connections/{name}/settings` (`CustomerSettings`)", CustomerSettings),
        ("invoicing: `PUT /connections/{name}/settings` (`InvoiceSettings`)", InvoiceSettings),
    ]
    out: list[str] = []
    for title, cls in parts:
        if out:
            out.append("")
        out += [f"### {title}", "", *SETTING_HEADER, *_setting_rows(cls, None, "", missing)]
    return "\n".join(out) + "\n", missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--connections",
        action="store_true",
        help="print the per-connection settings (admin APIs) instead of the environment",
    )
    parser.add_argument("--check", type=Path, help="fail unless this file contains both outputs")
    args = parser.parse_args()
    if args.check is not None:
        doc = args.check.read_text(encoding="utf-8")
        status = 0
        for text, missing in (render_environment(), render_connections()):
            for name in missing:
                print(f"settings_reference: no meaning for {name}", file=sys.stderr)
            if missing or text not in doc:
                status = 1
        if status:
            print(
                f"settings_reference: {args.check} is out of date; paste the output of "
                "scripts/settings_reference.py (and --connections) into it",
                file=sys.stderr,
            )
        return status
    text, missing = render_connections() if args.connections else render_environment()
    for name in missing:
        print(f"settings_reference: no meaning for {name}", file=sys.stderr)
    sys.stdout.write(text)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
