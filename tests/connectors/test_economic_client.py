"""The real client against the real sandbox (in-process through ASGI)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from economic_support import APP_SECRET, BASE_URL, RecordingTransport, assert_schema

from lb_connectors.economic import (
    AccountingYearRef,
    AccountRef,
    CurrencyCodeRef,
    CustomerCreate,
    CustomerGroupRef,
    CustomerPaymentEntry,
    CustomerRef,
    DraftInvoiceCreate,
    EconomicAuthError,
    EconomicClient,
    EconomicNotFound,
    EconomicValidationError,
    Field,
    InvoiceLine,
    JournalRef,
    LayoutRef,
    Notes,
    PaymentTermsRef,
    ProductCreate,
    ProductGroupRef,
    ProductRef,
    Recipient,
    References,
    VatZoneRef,
    VoucherCreate,
    VoucherEntries,
)


def customer_body(name: str, **extra: object) -> CustomerCreate:
    return CustomerCreate(
        name=name,
        currency="DKK",
        customer_group=CustomerGroupRef(customer_group_number=1),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        vat_zone=VatZoneRef(vat_zone_number=1),
        **extra,  # type: ignore[arg-type]
    )


def draft_body(
    customer_number: int, reference: str, *, price: str = "100.00", zone: int = 1
) -> DraftInvoiceCreate:
    return DraftInvoiceCreate(
        date=dt.date(2026, 5, 3),
        currency="DKK",
        customer=CustomerRef(customer_number=customer_number),
        layout=LayoutRef(layout_number=21),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        recipient=Recipient(name="Jane Doe", vat_zone=VatZoneRef(vat_zone_number=zone)),
        notes=Notes(heading="Webshop order 1001"),
        references=References(other=reference),
        lines=[
            InvoiceLine(
                line_number=1,
                sort_key=1,
                description="T-shirt red M",
                product=ProductRef(product_number="TSHIRT-RED-M"),
                quantity=Decimal("2"),
                unit_net_price=Decimal(price),
                discount_percentage=Decimal("0"),
            )
        ],
    )


async def test_reference_data_is_seeded(client: EconomicClient) -> None:
    zones = await client.list_vat_zones()
    assert [(z.vat_zone_number, z.name) for z in zones] == [
        (1, "Domestic"), (2, "EU"), (3, "Abroad"), (4, "Domestic exempt VAT"),
    ]  # fmt: skip
    assert zones[3].enabled_for_customer and not zones[3].enabled_for_supplier
    terms = await client.get_payment_terms(1)
    assert terms is not None and terms.days_of_credit == 8 and terms.payment_terms_type == "net"
    assert (await client.get_customer_group(1)).name == "Webshop customers"  # type: ignore[union-attr]
    assert [layout.layout_number for layout in await client.list_layouts()] == [21]
    assert await client.get_vat_zone(99) is None
    assert len(await client.list_customer_groups()) == 1
    assert [t.payment_terms_type for t in await client.list_payment_terms()] == ["net", "dueDate"]


async def test_create_customer_numbering_and_schema(
    client: EconomicClient, transport: RecordingTransport
) -> None:
    first = await client.create_customer(customer_body("Jane", email="jane@example.com"))
    second = await client.create_customer(customer_body("John"))
    chosen = await client.create_customer(customer_body("Fixed", customer_number=500))
    after = await client.create_customer(customer_body("After"))
    assert (first.customer_number, second.customer_number) == (1, 2)
    assert (chosen.customer_number, after.customer_number) == (500, 501)
    for body in transport.bodies("POST", "/customers"):
        assert_schema("customers.post", body)
        assert None not in body.values()
    fetched = await client.get_customer(1)
    assert fetched is not None and fetched.email == "jane@example.com"
    assert fetched.last_updated is not None and fetched.last_updated.tzinfo is not None
    assert await client.get_customer(999) is None


async def test_replace_customer_is_a_full_put(
    client: EconomicClient, transport: RecordingTransport
) -> None:
    created = await client.create_customer(customer_body("Jane", city="Aarhus"))
    update = created.to_create().model_copy(update={"city": None, "name": "Jane D."})
    replaced = await client.replace_customer(created.customer_number, update)
    assert replaced.name == "Jane D." and replaced.city is None
    assert_schema("customers.customerNo.put", transport.bodies("PUT", "/customers/1")[0])


async def test_find_customers_follows_pagination_to_the_end(
    client: EconomicClient, transport: RecordingTransport
) -> None:
    for i in range(7):
        await client.create_customer(customer_body(f"Paged {i}", city="Odense"))
    await client.create_customer(customer_body("Elsewhere", city="Vejle"))
    found = [c async for c in client.iter_customers(Field("city").eq("odense"), page_size=3)]
    assert [c.name for c in found] == [f"Paged {i}" for i in range(7)]
    pages = [
        r for r in transport.requests if r.method == "GET" and r.url.path.endswith("/customers")
    ]
    assert [r.url.params["skippages"] for r in pages] == ["0", "1", "2"]
    assert len(await client.find_customers("city$eq:Odense")) == 7


async def test_filter_escaping_round_trips_through_the_sandbox(client: EconomicClient) -> None:
    tricky = "Smith (Ltd), $5 [a*b]"
    await client.create_customer(customer_body(tricky))
    await client.create_customer(customer_body("Smith Ltd 5 ab"))
    found = await client.find_customers(str(Field("name").eq(tricky)))
    assert [c.name for c in found] == [tricky]
    assert len(await client.find_customers(str(Field("name").like("(ltd)")))) == 1


async def test_missing_required_fields_name_the_fields(client: EconomicClient) -> None:
    bad = customer_body("x").to_json_body()
    for key in ("currency", "vatZone"):
        bad.pop(key)
    with pytest.raises(EconomicValidationError) as caught:
        await client._call("POST", "/customers", what="the customer", body=bad)
    assert "currency" in caught.value.reason and "vatZone" in caught.value.reason
    assert caught.value.status == 400 and caught.value.log_id


async def test_unknown_customer_group_is_e06000(client: EconomicClient) -> None:
    body = customer_body("Jane").model_copy(
        update={"customer_group": CustomerGroupRef(customer_group_number=42)}
    )
    with pytest.raises(EconomicValidationError) as caught:
        await client.create_customer(body)
    assert caught.value.reason == (
        "e-conomic rejected the customer: customerGroup: customerGroup does not exist (E06000)"
    )
    assert [(e.path, e.code) for e in caught.value.field_errors] == [("customerGroup", "E06000")]


async def test_unit_net_price_with_three_decimals_is_e04740(client: EconomicClient) -> None:
    customer = await client.create_customer(customer_body("Jane"))
    with pytest.raises(EconomicValidationError) as caught:
        await client.create_draft_invoice(
            draft_body(customer.customer_number, "o-1", price="10.123")
        )
    assert caught.value.reason == (
        "e-conomic rejected the draft invoice: lines[0].unitNetPrice: "
        "unitNetPrice scale cannot be greater then two decimal places (E04740)"
    )


async def test_draft_totals_and_request_schema(
    client: EconomicClient, transport: RecordingTransport
) -> None:
    customer = await client.create_customer(customer_body("Jane"))
    draft = await client.create_draft_invoice(draft_body(customer.customer_number, "o-2"))
    assert draft.draft_invoice_number == 1
    assert (draft.net_amount, draft.vat_amount, draft.gross_amount) == (
        Decimal("200.00"), Decimal("50.00"), Decimal("250.00"),
    )  # fmt: skip
    abroad = await client.create_draft_invoice(draft_body(customer.customer_number, "o-3", zone=3))
    assert abroad.draft_invoice_number == 2 and abroad.vat_amount == Decimal("0.00")
    for body in transport.bodies("POST", "/invoices/drafts"):
        assert_schema("invoices.drafts.post", body)
    assert [d.draft_invoice_number for d in await client.find_draft_invoices(reference="o-3")] == [
        2
    ]
    fetched = await client.get_draft_invoice(1)
    assert fetched is not None and fetched.lines[0].unit_net_price == Decimal("100.00")
    assert await client.delete_draft_invoice(2)
    assert await client.get_draft_invoice(2) is None
    assert not await client.delete_draft_invoice(2, missing_ok=True)


async def test_book_then_book_again_fails_and_reference_finds_it(
    client: EconomicClient, transport: RecordingTransport
) -> None:
    customer = await client.create_customer(customer_body("Jane"))
    draft = await client.create_draft_invoice(draft_body(customer.customer_number, "order-77"))
    booked = await client.book_draft_invoice(draft.draft_invoice_number)
    assert booked.booked_invoice_number == 1 and booked.gross_amount == Decimal("250.00")
    line = booked.lines[0]
    assert (line.total_net_amount, line.vat_amount, line.vat_rate) == (
        Decimal("200.00"), Decimal("50.00"), Decimal("25"),
    )  # fmt: skip
    assert_schema("invoices.booked.post", transport.bodies("POST", "/invoices/booked")[0])
    with pytest.raises(EconomicNotFound) as caught:
        await client.book_draft_invoice(draft.draft_invoice_number)
    assert "already booked as invoice 1" in caught.value.reason
    assert await client.get_draft_invoice(draft.draft_invoice_number) is None
    found = await client.find_booked_invoices(reference="order-77")
    assert [b.booked_invoice_number for b in found] == [1]
    assert await client.find_booked_invoices(reference="order-7") == []
    product = await client.get_product("TSHIRT-RED-M")
    assert product is not None and product.inventory is not None
    assert product.inventory.in_stock == Decimal("48") and product.inventory.available == Decimal(
        "48"
    )
    assert (await client.get_booked_invoice(1)).references.other == "order-77"  # type: ignore[union-attr]


async def test_book_with_number(client: EconomicClient) -> None:
    customer = await client.create_customer(customer_body("Jane"))
    draft = await client.create_draft_invoice(draft_body(customer.customer_number, "o-9"))
    booked = await client.book_draft_invoice(draft.draft_invoice_number, book_with_number=1000)
    assert booked.booked_invoice_number == 1000


async def test_products(client: EconomicClient, transport: RecordingTransport) -> None:
    numbers = [p.product_number async for p in client.iter_products(page_size=2)]
    assert set(numbers) >= {"WEB-DEFAULT", "SHIPPING", "DISCOUNT", "TSHIRT-RED-M", "MUG-BLACK"}
    created = await client.create_product(
        ProductCreate(
            product_number="CAP_1/BLUE",
            name="Cap blue",
            product_group=ProductGroupRef(product_group_number=1),
            sales_price=Decimal("99.95"),
        )
    )
    assert created.sales_price == Decimal("99.95")
    assert_schema("products.post", transport.bodies("POST", "/products")[0])
    fetched = await client.get_product("CAP_1/BLUE")
    assert fetched is not None and fetched.name == "Cap blue"
    assert transport.requests[-1].url.raw_path.endswith(b"/products/CAP_8_1_6_BLUE")
    assert await client.get_product("NOPE") is None


async def test_non_filterable_field(client: EconomicClient) -> None:
    with pytest.raises(EconomicValidationError) as caught:
        await client.find_customers("bogusProp$eq:1")
    assert "bogusProp" in caught.value.reason and "customerNumber" in caught.value.reason


async def test_bad_tokens_are_auth_errors_without_secrets(sandbox: object) -> None:
    import httpx

    secret = "very-secret-grant-token"
    async with EconomicClient(
        BASE_URL,
        "",
        secret,
        transport=httpx.ASGITransport(app=sandbox),  # type: ignore[arg-type]
    ) as client:
        with pytest.raises(EconomicAuthError) as caught:
            await client.get_customer(1)
    assert caught.value.reason.startswith("e-conomic refused the app's tokens")
    for text in (caught.value.reason, caught.value.detail or "", str(caught.value)):
        assert secret not in text and APP_SECRET not in text


async def test_error_reasons_never_contain_tokens(client: EconomicClient, grant_token: str) -> None:
    with pytest.raises(EconomicValidationError) as caught:
        await client.create_customer(
            customer_body(grant_token).model_copy(update={"currency": "ZUL"})
        )
    error = caught.value
    assert "currency does not exist (E06000)" in error.reason
    for text in (error.reason, error.detail or "", repr(error.errors)):
        assert APP_SECRET not in text


async def test_customer_payment_voucher_matches_the_schema(
    client: EconomicClient, transport: RecordingTransport
) -> None:
    customer = await client.create_customer(customer_body("Jane"))
    draft = await client.create_draft_invoice(draft_body(customer.customer_number, "order-88"))
    booked = await client.book_draft_invoice(draft.draft_invoice_number)
    body = VoucherCreate(
        accounting_year=AccountingYearRef(year="2026"),
        journal=JournalRef(journal_number=1),
        entries=VoucherEntries(
            customer_payments=[
                CustomerPaymentEntry(
                    customer=CustomerRef(customer_number=customer.customer_number),
                    contra_account=AccountRef(account_number=5820),
                    amount=-booked.gross_amount,
                    currency=CurrencyCodeRef(code="DKK"),
                    date=dt.date(2026, 5, 3),
                    text="Webshop order #1001 paid via shopify_payments",
                    customer_invoice=booked.booked_invoice_number,
                )
            ]
        ),
    )
    [voucher] = await client.create_vouchers(1, body, idempotency_key="order-88:payment")
    sent = transport.bodies("POST", "/journals/1/vouchers")[0]
    assert_schema("journals.journalNumber.vouchers.post", sent)
    payment = sent["entries"]["customerPayments"][0]
    assert payment["customer"] == {"customerNumber": customer.customer_number}
    assert payment["contraAccount"] == {"accountNumber": 5820}
    assert payment["customerInvoice"] == booked.booked_invoice_number
    assert Decimal(str(payment["amount"])) == Decimal("-250.00")
    [entry] = voucher.entries.customer_payments
    assert entry.journal_entry_number == 1 and entry.amount == Decimal("-250.00")
    # What a retry after a lost reply finds it by: the journal's entries, filtered on the text.
    entries = await client.find_journal_entries(1, Field("text").like("order #1001 paid"))
    assert [(e.journal_entry_number, e.customer_invoice) for e in entries] == [
        (1, booked.booked_invoice_number)
    ]
    assert entries[0].voucher is not None
    assert entries[0].voucher.voucher_number == voucher.voucher_number
    assert entries[0].voucher.accounting_year == AccountingYearRef(year="2026")
    wrong = body.model_copy(deep=True)
    wrong.entries.customer_payments[0].contra_account = AccountRef(account_number=9999)
    with pytest.raises(EconomicValidationError) as caught:
        await client.create_vouchers(1, wrong)
    assert "entries.customerPayments[0].contraAccount" in caught.value.reason
