"""Async client for e-conomic's REST API (restapi.e-conomic.com).

Retries, in two layers:
- Here, quickly: a call that fails with a 5xx, a 429 or a network error is tried again a few
  times within seconds (`CallRetry`: attempts, doubling backoff with full jitter, Retry-After
  honoured, a total budget), so one 503 does not send the order through the retry queues and
  repeat every lookup the handler made before it.
  Reads (GET) and PUT (a full replace) are always safe to send again. DELETE is sent again only
  with an Idempotency-Key: e-conomic then answers a repeat from its cache (`X-ResultFromCache:
  true`), as a live test showed. POST is sent again only when `post_replay` says restapi does
  the same for POST, which is unconfirmed (docs/architecture.md, "One document"): by default a POST that
  may have reached e-conomic (a timeout, a reset or a 5xx after sending) is not repeated, and
  the failure goes up; every create of the services has a lookup guard that finds what a lost
  reply left (a reference, a text, a name) before creating again. The services still pass a
  key on every create and book: harmless where it is ignored. A 429 and a call that never left
  (connection refused) are repeated for any method; nothing ran.
- In the service's messaging layer, slowly: what still fails here raises EconomicUnavailable
  (`cause` ledger_unavailable) or EconomicRateLimited (`cause` rate_limited, with Retry-After),
  and the message waits in that cause's retry queues; the handler then resumes from its last
  recorded step (see lb_common/retry.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx

from ..call_retry import NOT_SENT, CallRetry, may_repeat
from . import jsoncodec
from .accounting_years import AccountingYear
from .errors import EconomicNotFound, error_from_response, unavailable_from_exception
from .filters import Field, Filter
from .metrics import count_call, count_retry
from .models import (
    BookedInvoice,
    BookInvoiceRequest,
    Contact,
    ContactCreate,
    Currency,
    Customer,
    CustomerCreate,
    CustomerGroup,
    DeliveryLocation,
    DeliveryLocationCreate,
    DraftInvoice,
    DraftInvoiceCreate,
    JournalEntry,
    Layout,
    PaymentTerms,
    Product,
    ProductCreate,
    ProductGroupRef,
    VatZone,
    Voucher,
    VoucherCreate,
    customer_update_body,
)
from .one_write import write_requests_whole
from .paths import encode_id
from .ratelimit import RateLimitPacer, shared_pacer
from .setup_models import GroupSalesAccount, Journal, SelfInfo, VatAccount

log = logging.getLogger("lb_connectors.economic")

MAX_PAGE_SIZE = 1000
_NOT_FOUND = object()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date; e-conomic is not known to send one


class EconomicClient:
    """One agreement's view of e-conomic. Use as `async with EconomicClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        app_secret_token: str,
        agreement_grant_token: str,
        *,
        timeout: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
        pacer: RateLimitPacer | None = None,
        retry: CallRetry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        post_replay: bool = False,
        on_call: Callable[[], None] | None = None,
    ) -> None:
        self._retry = retry or CallRetry()
        # Told of every request sent (each attempt): the daily count (lb_common/ledger_calls.py).
        self._on_call = on_call
        self._post_replay = post_replay  # restapi replays a keyed POST (see module doc)
        self._sleep = sleep
        # One pacer per agreement, shared by all clients of it in this process (see ratelimit.py).
        self._pacer = pacer or shared_pacer(base_url, agreement_grant_token)
        # Requests are built here, whole, and handed to `send`: the client's own building (its
        # base URL, default headers and cookies merged into each request, the URL parsed again)
        # cost more than the rest of our side of a call.
        self._http = httpx.AsyncClient(
            headers={
                "X-AppSecretToken": app_secret_token,
                "X-AgreementGrantToken": agreement_grant_token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
        )
        if transport is None:
            write_requests_whole(self._http)  # head and body in one TCP segment (one_write.py)
        self._base_url = base_url.rstrip("/") + "/"
        self._headers = dict(self._http.headers)  # httpx's defaults (user agent, ...) and ours
        self._extensions = {"timeout": self._http.timeout.as_dict()}
        self._urls: dict[str, httpx.URL] = {}  # parsed once per path (bounded: _url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        encoded: str | None = None,
    ) -> httpx.Response:
        """`encoded`: the body already written (`jsoncodec.dumps`), sent as it is."""
        request_line = f"{method} {path}"
        headers = (
            {**self._headers, "Idempotency-Key": idempotency_key}
            if idempotency_key
            else self._headers
        )
        content = (
            encoded
            if encoded is not None
            else (jsoncodec.dumps(body) if body is not None else None)
        )
        url = self._url(path) if not params else httpx.URL(self._url(path), params=params)
        keyed = idempotency_key is not None and (method != "POST" or self._post_replay)
        repeatable = may_repeat(method, idempotent=keyed)
        attempt, waited = 1, 0.0
        while True:
            await self._pacer.before_call()
            if self._on_call is not None:
                self._on_call()
            started = time.monotonic()
            try:
                response = await self._exchange(
                    httpx.Request(
                        method, url, content=content, headers=headers, extensions=self._extensions
                    )
                )
            except httpx.HTTPError as exc:
                count_call(path, method, "error")
                error = unavailable_from_exception(exc, what=what, request_line=request_line)
                sent_maybe = not isinstance(exc, NOT_SENT)
                if not isinstance(exc, httpx.TransportError) or (sent_maybe and not repeatable):
                    raise error from exc
                failure: Exception | httpx.Response = error
                retry_after = None
                outcome = type(exc).__name__
            else:
                count_call(path, method, response.status_code)
                retry_after = _retry_after(response)
                self._pacer.observe(response.headers, response.status_code, retry_after)
                log.debug(
                    "e-conomic call",
                    extra={
                        "data": {
                            "method": method,
                            "path": path,
                            "status": response.status_code,
                            "ms": round((time.monotonic() - started) * 1000),
                            "from_cache": response.headers.get("X-ResultFromCache") == "true",
                        }
                    },
                )
                status = response.status_code
                if not (status == 429 or (status >= 500 and repeatable)):
                    return response
                failure, outcome = response, str(status)
            wait = self._retry.wait_before(attempt + 1, retry_after)
            if not self._retry.allows(attempt + 1, waited, wait):
                if isinstance(failure, httpx.Response):
                    return failure  # _call maps it to the error the messaging layer routes
                raise failure
            count_retry(path, method, outcome)
            log.info(
                "e-conomic %s failed (%s); trying again in %.2f s",
                request_line,
                outcome,
                wait,
                extra={"data": {"attempt": attempt, "wait_s": round(wait, 3)}},
            )
            await self._sleep(wait)
            waited += wait
            attempt += 1

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """`request` sent and its answer read: the part of `AsyncClient.send` a call here needs.
        The rest (the auth flow, redirects, event hooks, the cookie jar: none is used, and a
        cookie it kept was never sent with our requests, which are built whole) cost about a
        quarter of `send`'s own time under invoicing's flat-out bench (one-off py-spy profile).
        The transport is the client's for the URL (a proxy from the environment too), as the
        tracing's wrapper sees it."""
        if self._http.is_closed:
            raise RuntimeError("the e-conomic client is closed")
        transport = self._http._transport_for_url(request.url)
        response = await transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= 512:  # paths with numbers in them are many: start again
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self._base_url + path.lstrip("/"))
        return url

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        none_on_404: bool = False,
        encoded: str | None = None,
    ) -> Any:
        """Send and decode; raise the mapped EconomicError for any non-2xx answer."""
        response = await self._send(
            method,
            path,
            what=what,
            params=params,
            body=body,
            idempotency_key=idempotency_key,
            encoded=encoded,
        )
        if response.status_code == 404 and none_on_404:
            return _NOT_FOUND
        if response.is_success:
            return jsoncodec.loads(response.content) if response.content else None
        try:
            error_body = jsoncodec.loads(response.content) if response.content else None
        except ValueError:
            error_body = None
        raise error_from_response(
            response.status_code,
            error_body,
            what=what,
            request_line=f"{method} {path}",
            retry_after=_retry_after(response),
        )

    async def _get_one(self, path: str, *, what: str) -> Any:
        data = await self._call("GET", path, what=what, none_on_404=True)
        return None if data is _NOT_FOUND else data

    async def _iter_collection(
        self,
        path: str,
        *,
        what: str,
        filter: str | Filter | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every item of a collection, page by page, until `pagination.nextPage` is absent.

        Only `skippages` is taken from nextPage: the request keeps going to our own base URL, so
        the tokens are never sent to whatever host a link might name.
        """
        params: dict[str, str | int] = {"skippages": 0, "pagesize": min(page_size, MAX_PAGE_SIZE)}
        if filter is not None:
            params["filter"] = str(filter)
        while True:
            page = await self._call("GET", path, what=what, params=params)
            for item in page.get("collection", []):
                yield item
            next_page = (page.get("pagination") or {}).get("nextPage")
            if not next_page:
                return
            query = parse_qs(urlsplit(next_page).query)
            next_skip = int(query.get("skippages", [int(params["skippages"]) + 1])[0])
            if next_skip <= int(params["skippages"]):
                return  # a link that does not move forward would loop for ever
            params["skippages"] = next_skip

    async def _list(self, path: str, *, what: str, filter: str | Filter | None = None) -> list[Any]:
        return [item async for item in self._iter_collection(path, what=what, filter=filter)]

    # --- customers ------------------------------------------------------------------------

    async def find_customers(self, filter: str | Filter) -> list[Customer]:
        items = await self._list("/customers", what="the customer search", filter=filter)
        return [Customer.model_validate(i) for i in items]

    async def iter_customers(
        self, filter: str | Filter | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[Customer]:
        async for item in self._iter_collection(
            "/customers", what="the customer list", filter=filter, page_size=page_size
        ):
            yield Customer.model_validate(item)

    async def get_customer(self, number: int) -> Customer | None:
        data = await self._get_one(f"/customers/{int(number)}", what=f"customer {number}")
        return None if data is None else Customer.model_validate(data)

    async def list_contacts(self, customer_number: int) -> list[Contact]:
        items = await self._list(
            f"/customers/{int(customer_number)}/contacts",
            what=f"the contacts of customer {customer_number}",
        )
        return [Contact.model_validate(i) for i in items]

    async def create_contact(
        self, customer_number: int, body: ContactCreate, *, idempotency_key: str | None = None
    ) -> Contact:
        data = await self._call(
            "POST",
            f"/customers/{int(customer_number)}/contacts",
            what=f"a contact for customer {customer_number}",
            body=body.to_json_body(),
            idempotency_key=idempotency_key,
        )
        return Contact.model_validate(data)

    async def list_delivery_locations(self, customer_number: int) -> list[DeliveryLocation]:
        items = await self._list(
            f"/customers/{int(customer_number)}/delivery-locations",
            what=f"the delivery locations of customer {customer_number}",
        )
        return [DeliveryLocation.model_validate(i) for i in items]

    async def create_delivery_location(
        self,
        customer_number: int,
        body: DeliveryLocationCreate,
        *,
        idempotency_key: str | None = None,
    ) -> DeliveryLocation:
        data = await self._call(
            "POST",
            f"/customers/{int(customer_number)}/delivery-locations",
            what=f"a delivery location for customer {customer_number}",
            body=body.to_json_body(),
            idempotency_key=idempotency_key,
        )
        return DeliveryLocation.model_validate(data)

    async def create_customer(
        self, body: CustomerCreate, *, idempotency_key: str | None = None
    ) -> Customer:
        data = await self._call(
            "POST",
            "/customers",
            what="the customer",
            body=body.to_json_body(),
            idempotency_key=idempotency_key,
        )
        return Customer.model_validate(data)

    async def update_customer(self, customer: Customer, changes: dict[str, Any]) -> Customer:
        """Change some fields of `customer` (as just read): PUT it back whole with `changes`
        merged in, keeping every field we do not change (`customer_update_body`)."""
        number = customer.customer_number
        data = await self._call(
            "PUT",
            f"/customers/{int(number)}",
            what=f"customer {number}",
            body=customer_update_body(customer, changes),
        )
        return Customer.model_validate(data)

    async def replace_customer(self, number: int, body: CustomerCreate) -> Customer:
        """PUT: a full replace. Fields left out of `body` are cleared in e-conomic."""
        payload = body.to_json_body()
        payload["customerNumber"] = int(number)
        data = await self._call(
            "PUT", f"/customers/{int(number)}", what=f"customer {number}", body=payload
        )
        return Customer.model_validate(data)

    # --- reference data -------------------------------------------------------------------

    async def get_customer_group(self, number: int) -> CustomerGroup | None:
        data = await self._get_one(f"/customer-groups/{int(number)}", what="the customer group")
        return None if data is None else CustomerGroup.model_validate(data)

    async def list_customer_groups(self) -> list[CustomerGroup]:
        items = await self._list("/customer-groups", what="the customer groups")
        return [CustomerGroup.model_validate(i) for i in items]

    async def get_payment_terms(self, number: int) -> PaymentTerms | None:
        data = await self._get_one(f"/payment-terms/{int(number)}", what="the payment terms")
        return None if data is None else PaymentTerms.model_validate(data)

    async def list_payment_terms(self) -> list[PaymentTerms]:
        items = await self._list("/payment-terms", what="the payment terms")
        return [PaymentTerms.model_validate(i) for i in items]

    async def get_vat_zone(self, number: int) -> VatZone | None:
        data = await self._get_one(f"/vat-zones/{int(number)}", what="the VAT zone")
        return None if data is None else VatZone.model_validate(data)

    async def list_vat_zones(self) -> list[VatZone]:
        items = await self._list("/vat-zones", what="the VAT zones")
        return [VatZone.model_validate(i) for i in items]

    async def list_layouts(self) -> list[Layout]:
        items = await self._list("/layouts", what="the layouts")
        return [Layout.model_validate(i) for i in items]

    async def list_currencies(self) -> list[Currency]:
        items = await self._list("/currencies", what="the currencies")
        return [Currency.model_validate(i) for i in items]

    # --- VAT setup, journals, the agreement ------------------------------------------------

    async def list_vat_accounts(self) -> list[VatAccount]:
        items = await self._list("/vat-accounts", what="the VAT codes")
        return [VatAccount.model_validate(i) for i in items]

    async def list_sales_accounts(self, product_group: int) -> list[GroupSalesAccount]:
        """The product group's sales account for each VAT zone (with its VAT code)."""
        items = await self._list(
            f"/product-groups/{int(product_group)}/sales-accounts",
            what=f"the sales accounts of product group {product_group}",
        )
        return [GroupSalesAccount.model_validate(i) for i in items]

    async def list_product_groups(self) -> list[ProductGroupRef]:
        items = await self._list("/product-groups", what="the product groups")
        return [ProductGroupRef.model_validate(i) for i in items]

    async def list_journals(self) -> list[Journal]:
        items = await self._list("/journals", what="the journals")
        return [Journal.model_validate(i) for i in items]

    async def get_journal(self, number: int) -> Journal | None:
        data = await self._get_one(f"/journals/{int(number)}", what=f"journal {number}")
        return None if data is None else Journal.model_validate(data)

    async def get_self(self) -> SelfInfo:
        """The agreement and its company (the CVR an EAN invoice needs)."""
        data = await self._call("GET", "/self", what="the agreement's settings")
        return SelfInfo.model_validate(data)

    # --- deletes (the live contract suite cleans up with them) -----------------------------

    async def delete_customer(self, number: int) -> None:
        """204; refused while a booked invoice references the customer."""
        await self._call("DELETE", f"/customers/{int(number)}", what=f"customer {number}")

    async def delete_contact(self, customer_number: int, contact_number: int) -> None:
        await self._call(
            "DELETE",
            f"/customers/{int(customer_number)}/contacts/{int(contact_number)}",
            what=f"contact {contact_number} of customer {customer_number}",
        )

    async def delete_product(self, product_number: str) -> None:
        """204; refused while the product is in use."""
        await self._call(
            "DELETE", f"/products/{encode_id(product_number)}", what=f"product {product_number!r}"
        )

    # --- products -------------------------------------------------------------------------

    async def get_product(self, product_number: str) -> Product | None:
        data = await self._get_one(
            f"/products/{encode_id(product_number)}", what=f"product {product_number!r}"
        )
        return None if data is None else Product.model_validate(data)

    async def iter_products(
        self, filter: str | Filter | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[Product]:
        async for item in self._iter_collection(
            "/products", what="the product list", filter=filter, page_size=page_size
        ):
            yield Product.model_validate(item)

    async def product_page(self, page_size: int = MAX_PAGE_SIZE) -> tuple[list[Product], bool]:
        """The product list's first page (up to 1,000 products, one call), and whether it is
        the whole list (no next page)."""
        page = await self._call(
            "GET",
            "/products",
            what="the product list",
            params={"skippages": 0, "pagesize": min(page_size, MAX_PAGE_SIZE)},
        )
        products = [Product.model_validate(item) for item in page.get("collection", [])]
        return products, not (page.get("pagination") or {}).get("nextPage")

    async def create_product(
        self, body: ProductCreate, *, idempotency_key: str | None = None
    ) -> Product:
        data = await self._call(
            "POST",
            "/products",
            what=f"the product {body.product_number!r}",
            body=body.to_json_body(),
            idempotency_key=idempotency_key,
        )
        return Product.model_validate(data)

    # --- draft invoices -------------------------------------------------------------------

    async def create_draft_invoice(
        self,
        body: DraftInvoiceCreate,
        *,
        idempotency_key: str | None = None,
        encoded: str | None = None,
    ) -> DraftInvoice:
        """`encoded`: `body` as `jsoncodec.dumps(body.to_json_body())` wrote it, where the caller
        has that already (its digest names the idempotency key): not written a second time."""
        data = await self._call(
            "POST",
            "/invoices/drafts",
            what="the draft invoice",
            body=None if encoded is not None else body.to_json_body(),
            idempotency_key=idempotency_key,
            encoded=encoded,
        )
        return DraftInvoice.model_validate(data)

    async def get_draft_invoice(self, number: int) -> DraftInvoice | None:
        data = await self._get_one(
            f"/invoices/drafts/{int(number)}", what=f"draft invoice {number}"
        )
        return None if data is None else DraftInvoice.model_validate(data)

    async def find_draft_invoices(self, *, reference: str) -> list[DraftInvoice]:
        """Drafts whose `references.other` equals `reference` (the list omits their lines)."""
        items = await self._list(
            "/invoices/drafts",
            what="the draft invoice search",
            filter=Field("references.other").eq(reference),
        )
        return [DraftInvoice.model_validate(i) for i in items]

    async def delete_draft_invoice(self, number: int, *, missing_ok: bool = False) -> bool:
        """Delete one draft. Returns False if it was already gone and `missing_ok` is set."""
        try:
            await self._call(
                "DELETE", f"/invoices/drafts/{int(number)}", what=f"draft invoice {number}"
            )
        except EconomicNotFound:
            if missing_ok:
                return False
            raise
        return True

    # --- booked invoices ------------------------------------------------------------------

    async def book_draft_invoice(
        self,
        draft_invoice_number: int,
        *,
        idempotency_key: str | None = None,
        send_by: str | None = None,
        book_with_number: int | None = None,
    ) -> BookedInvoice:
        body = BookInvoiceRequest(
            draft_invoice=BookInvoiceRequest.DraftRef(draft_invoice_number=draft_invoice_number),
            book_with_number=book_with_number,
            send_by=send_by,
        )
        data = await self._call(
            "POST",
            "/invoices/booked",
            what=f"draft invoice {draft_invoice_number} for booking",
            body=body.to_json_body(),
            idempotency_key=idempotency_key,
        )
        return BookedInvoice.model_validate(data)

    async def get_booked_invoice(self, number: int) -> BookedInvoice | None:
        data = await self._get_one(
            f"/invoices/booked/{int(number)}", what=f"booked invoice {number}"
        )
        return None if data is None else BookedInvoice.model_validate(data)

    async def find_booked_invoices(self, *, reference: str) -> list[BookedInvoice]:
        """Booked invoices whose `references.other` equals `reference`, as the list shows them:
        without their lines (schema invoices.booked.get). Read one by number for its lines."""
        items = await self._list(
            "/invoices/booked",
            what="the booked invoice search",
            filter=Field("references.other").eq(reference),
        )
        return [BookedInvoice.model_validate(i) for i in items]

    # --- journals -------------------------------------------------------------------------

    async def create_vouchers(
        self, journal_number: int, body: VoucherCreate, *, idempotency_key: str | None = None
    ) -> list[Voucher]:
        """Add entries to a journal (kassekladde). e-conomic answers with an array: it may
        split the entries over several vouchers."""
        data = await self._call(
            "POST",
            f"/journals/{int(journal_number)}/vouchers",
            what=f"the voucher for journal {journal_number}",
            body=body.to_json_body(),
            idempotency_key=idempotency_key,
        )
        items = data if isinstance(data, list) else [data]
        return [Voucher.model_validate(i) for i in items]

    async def find_journal_entries(
        self, journal_number: int, filter: str | Filter | None = None
    ) -> list[JournalEntry]:
        """Entries of a journal not booked yet (booking the journal moves them to the year)."""
        items = await self._list(
            f"/journals/{int(journal_number)}/entries",
            what=f"the entries of journal {journal_number}",
            filter=filter,
        )
        return [JournalEntry.model_validate(i) for i in items]

    # --- accounting years -----------------------------------------------------------------

    async def list_accounting_years(self) -> list[AccountingYear]:
        items = await self._list("/accounting-years", what="the accounting years")
        return [AccountingYear.model_validate(i) for i in items]
