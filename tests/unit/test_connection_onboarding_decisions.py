"""The pure decisions of onboarding: settings proposed from an agreement's reference data, and
which webhook subscriptions to delete and create."""

from __future__ import annotations

from lb_connectors.ledger import Choice, ReferenceData
from lb_ingest.connection_proposal import as_settings, propose
from lb_ingest.connection_subscriptions import Held, plan


def _c(n: int, name: str, **facts: str) -> Choice:
    return Choice(id=str(n), name=name, facts=facts)


def _reference(groups=(), terms=(), zones=(), layouts=()) -> ReferenceData:
    """An agreement's reference data as the ledger port reads it: only VAT zones for
    customers, no deleted layout."""
    return ReferenceData(
        customer_groups=tuple(groups),
        payment_terms=tuple(terms),
        tax_zones=tuple(zones),
        layouts=tuple(layouts),
    )


def test_a_danish_agreement_gets_its_own_numbers_and_a_reason_for_each():
    choices = propose(
        _reference(
            [_c(10, "Erhvervskunder"), _c(20, "Webshop privat")],
            [
                _c(3, "Netto 30", type="net", days_of_credit="30"),
                _c(7, "Kontant", type="paidInCash"),
            ],
            [_c(5, "Momsfri indland"), _c(6, "Indland"), _c(7, "EU"), _c(8, "Udland")],
            [_c(4, "Standardfaktura")],
        )
    )
    assert as_settings(choices) == {
        "customers": {
            "defaults": {"customer_group": 20, "payment_terms": 7},
            "vat_zones": {"domestic": 6, "eu_business": 7, "eu_private": 6, "abroad": 8},
        },
        "invoicing": {"layout": 4},
    }
    assert all(c.why for c in choices)


def test_a_setting_without_a_candidate_keeps_its_default_and_says_so():
    choices = propose(
        _reference(
            [_c(1, "Kunder")],
            [_c(2, "Lobende maned", type="invoiceMonth")],
            [_c(1, "Zone A")],
            [],
        )
    )
    settings = as_settings(choices)
    assert settings == {"customers": {"defaults": {"customer_group": 1, "payment_terms": 2}}}
    missing = {c.setting: c.why for c in choices if c.value is None}
    assert set(missing) == {
        "vat_zones.domestic",
        "vat_zones.eu_business",
        "vat_zones.eu_private",
        "vat_zones.abroad",
        "layout",
    }
    assert "pick one" in missing["vat_zones.abroad"]
    group = next(c for c in choices if c.setting == "defaults.customer_group")
    assert "check it" in group.why


URI = "https://bridge.example.com/webhooks/shopify/west"


def test_subscriptions_missing_wrong_and_doubled_are_repaired():
    held = [
        Held("gid://1", "ORDERS_CREATE", URI, "JSON"),
        Held("gid://2", "ORDERS_CREATE", URI, "JSON"),  # twice: one goes
        Held("gid://3", "ORDERS_PAID", "https://old.example.com/h", "JSON"),
        Held("gid://4", "ORDERS_UPDATED", URI, "XML"),
    ]
    todo = plan(held, URI, ("ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "REFUNDS_CREATE"))
    assert [h.id for h in todo.delete] == ["gid://2", "gid://3", "gid://4"]
    assert todo.create == ("ORDERS_PAID", "ORDERS_UPDATED", "REFUNDS_CREATE")
    assert [r["state"] for r in todo.report] == ["ok", "re-created", "re-created", "created"]


def test_right_subscriptions_are_left_alone():
    held = [
        Held(f"gid://{i}", t, URI, None) for i, t in enumerate(("ORDERS_CREATE", "ORDERS_PAID"))
    ]
    todo = plan(held, URI, ("ORDERS_CREATE", "ORDERS_PAID"))
    assert (todo.delete, todo.create) == ((), ())
