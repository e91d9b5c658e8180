"""The sandbox answers any number in a path the way e-conomic does: a 404 in its error shape,
never a server error (issue #17: `make fuzz-api` found "³", which `str.isdigit` accepts and
`int` refuses, was a 500 on every numbered route; so was a number too long for `int`)."""

from __future__ import annotations

import httpx
import pytest

from lb_sandbox.economic.paths import path_number

NOT_NUMBERS = ("%C2%B3", "%D9%A1", "9" * 5000)  # "³", Arabic-Indic "1", 5,000 digits

NUMBERED = [
    ("GET", "/economic/customers/{n}"),
    ("PUT", "/economic/customers/{n}"),
    ("GET", "/economic/customers/{n}/contacts"),
    ("GET", "/economic/customers/{n}/delivery-locations"),
    ("GET", "/economic/customer-groups/{n}"),
    ("GET", "/economic/journals/{n}/vouchers"),
    ("POST", "/economic/journals/{n}/vouchers"),
    ("GET", "/economic/invoices/drafts/{n}"),
    ("DELETE", "/economic/invoices/drafts/{n}"),
    ("GET", "/economic/invoices/booked/{n}"),
]


@pytest.mark.parametrize(("method", "template"), NUMBERED)
async def test_a_path_number_that_is_not_one_is_not_found(
    http: httpx.AsyncClient, method: str, template: str
) -> None:
    for text in NOT_NUMBERS:
        answer = await http.request(method, template.format(n=text), json={})
        assert answer.status_code == 404, (method, template, text[:10], answer.text)
        body = answer.json()
        assert body["httpStatusCode"] == 404 and {"message", "logId", "logTime"} <= set(body)


async def test_a_draft_booked_by_a_self_link_with_no_number_is_refused(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.post(
        "/economic/invoices/booked",
        json={"draftInvoice": {"self": "https://restapi.e-conomic.com/invoices/drafts/³"}},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["httpStatusCode"] == 400


def test_path_number_reads_ascii_digits_only() -> None:
    assert path_number("42") == 42
    assert path_number("007") == 7
    for text in ("", "-1", "+1", "1.0", " 1", "³", "١", "9" * 19):
        assert path_number(text) is None, text
