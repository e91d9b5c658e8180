"""The seed every new agreement starts with: a small Danish webshop's setup."""

from __future__ import annotations

from decimal import Decimal

from .accounting_years import seed_accounting_years
from .paths import encode_id
from .state import Agreement, Entity, now_utc_text
from .vat import seed_vat

CURRENCIES = {
    "DKK": ("Danish krone", "208"),
    "EUR": ("Euro", "978"),
    "USD": ("US dollar", "840"),
    "SEK": ("Swedish krona", "752"),
    "NOK": ("Norwegian krone", "578"),
    "GBP": ("Pound sterling", "826"),
    "HKD": ("Hong Kong dollar", "344"),
    "VND": ("Vietnamese dong", "704"),
}

SERVICE_GROUP = 2  # the product group without inventory


def _vat_zone(a: Agreement, number: int, name: str, *, supplier: bool) -> Entity:
    zone: Entity = {"vatZoneNumber": number, "name": name, "enabledForCustomer": True}
    if supplier:  # e-conomic only sends booleans that are true
        zone["enabledForSupplier"] = True
    zone["self"] = a.link(f"/vat-zones/{number}")
    return zone


def product_entity(
    a: Agreement,
    number: str,
    name: str,
    price: Decimal,
    *,
    group: int = 1,
    in_stock: Decimal | None = None,
) -> Entity:
    group_entity = a.product_groups[group]
    product: Entity = {
        "productNumber": number,
        "name": name,
        "salesPrice": price,
        "costPrice": Decimal("0.00"),
        "productGroup": {
            "productGroupNumber": group,
            "name": group_entity["name"],
            "inventoryEnabled": group_entity["inventoryEnabled"],
            "self": group_entity["self"],
        },
        "lastUpdated": now_utc_text(),
        "self": a.link(f"/products/{encode_id(number)}"),
    }
    if group_entity["inventoryEnabled"]:
        stock = in_stock if in_stock is not None else Decimal("0")
        product["inventory"] = {
            "available": stock,
            "inStock": stock,
            "orderedByCustomers": Decimal("0"),
            "orderedFromSuppliers": Decimal("0"),
            "packageVolume": Decimal("0.00"),
            "recommendedCostPrice": Decimal("0.00"),
        }
    return product


def seed(a: Agreement) -> None:
    a.customer_groups[1] = {
        "customerGroupNumber": 1,
        "name": "Webshop customers",
        "account": {"accountNumber": 5600, "self": a.link("/accounts/5600")},
        "customers": a.link("/customer-groups/1/customers"),
        "self": a.link("/customer-groups/1"),
    }
    a.payment_terms[1] = {
        "paymentTermsNumber": 1,
        "name": "Netto 8 dage",
        "daysOfCredit": 8,
        "paymentTermsType": "net",
        "self": a.link("/payment-terms/1"),
    }
    # Terms whose due date each invoice sets (type dueDate: the draft must carry a dueDate).
    a.payment_terms[2] = {
        "paymentTermsNumber": 2,
        "name": "Forfaldsdato",
        "daysOfCredit": 0,
        "paymentTermsType": "dueDate",
        "self": a.link("/payment-terms/2"),
    }
    for number, name, supplier in (
        (1, "Domestic", True),
        (2, "EU", True),
        (3, "Abroad", True),
        (4, "Domestic exempt VAT", False),
    ):
        a.vat_zones[number] = _vat_zone(a, number, name, supplier=supplier)
    a.layouts[21] = {"layoutNumber": 21, "name": "Standard", "self": a.link("/layouts/21")}
    for code, (name, iso) in CURRENCIES.items():
        a.currencies[code] = {
            "code": code,
            "name": name,
            "isoNumber": iso,
            "self": a.link(f"/currencies/{code}"),
        }
    a.product_groups[1] = {
        "productGroupNumber": 1,
        "name": "Varer m/moms",
        "inventoryEnabled": True,
        "self": a.link("/product-groups/1"),
    }
    # Services (shipping, fees, discounts, the catch-all item) sit in a group without
    # inventory, as a webshop's bookkeeper sets them up: e-conomic keeps no stock for them.
    a.product_groups[SERVICE_GROUP] = {
        "productGroupNumber": SERVICE_GROUP,
        "name": "Ydelser m/moms",
        "inventoryEnabled": False,
        "self": a.link(f"/product-groups/{SERVICE_GROUP}"),
    }
    zero = Decimal("0.00")
    for sku, title, price, group, stock in (
        ("WEB-DEFAULT", "Webshop item (no SKU)", zero, SERVICE_GROUP, None),
        ("SHIPPING", "Shipping", zero, SERVICE_GROUP, None),
        ("DISCOUNT", "Discount", zero, SERVICE_GROUP, None),
        ("TSHIRT-RED-M", "T-shirt red M", Decimal("120.00"), 1, Decimal("50")),
        ("MUG-BLACK", "Mug black", Decimal("60.00"), 1, Decimal("20")),
    ):
        a.products[sku] = product_entity(a, sku, title, price, group=group, in_stock=stock)
    for account, label in ((1010, "Bank"), (5820, "Webshop sales suspense")):
        a.accounts[account] = {
            "accountNumber": account,
            "accountType": "status",
            "name": label,
            "balance": Decimal("0.00"),
            "blockDirectEntries": False,
            "debitCredit": "debit",
            "self": a.link(f"/accounts/{account}"),
        }
    seed_accounting_years(a)
    a.journals[1] = {
        "journalNumber": 1,
        "name": "Webshop",
        "settings": {"voucherNumbers": {"minimumVoucherNumber": 1}},
        "self": a.link("/journals/1"),
    }
    seed_vat(a)
    # The agreement's company (GET /self); its CVR lets it send EAN invoices (einvoice.py).
    a.company = {
        "name": "Demo Webshop ApS",
        "addressLine1": "Vestergade 1",
        "zip": "8000",
        "city": "Aarhus C",
        "country": "Danmark",
        "companyIdentificationNumber": "12345674",
    }
    # Journals that take one entry type only (settings.entryTypeRestrictedTo, schema
    # journals.get); a live agreement's journal 2 takes only customer payments, with contra
    # account 5820 (traels-it/economic-rest journals_0.json).
    for number, name, only, contra in (
        (2, "Indbetalinger", "customerPayment", ("customerPayments", 5820)),
        (3, "Finans", "financeVoucher", ("financeVouchers", 1010)),
    ):
        a.journals[number] = {
            "journalNumber": number,
            "name": name,
            "settings": {
                "voucherNumbers": {"minimumVoucherNumber": 1},
                "entryTypeRestrictedTo": only,
                "contraAccounts": {
                    contra[0]: {
                        "accountNumber": contra[1],
                        "self": a.link(f"/accounts/{contra[1]}"),
                    }
                },
            },
            "self": a.link(f"/journals/{number}"),
        }
