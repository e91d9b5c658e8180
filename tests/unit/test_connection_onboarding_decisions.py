"""The pure decisions of onboarding: settings proposed from an agreement's reference data, and
which webhook subscriptions to delete and create."""

from __future__ import annotations

from lb_connectors.economic.models import CustomerGroup, Layout, PaymentTerms, VatZone
from lb_ingest.connection_proposal import as_settings, propose
from lb_ingest.connection_subscriptions import Held, plan


def _zone(n: int, name: str, customer: bool = True) -> VatZone:
    return VatZone(vat_zone_number=n, name=name, enabled_for_customer=customer)


def test_a_danish_agreement_gets_its_own_numbers_and_a_reason_for_each():
    choices = propose(
        [
            CustomerGroup(customer_group_number=10, name="Erhvervskunder"),
            CustomerGroup(customer_group_number=20, name="Webshop privat"),
        ],
        [
            PaymentTerms(
                payment_terms_number=3, name="Netto 30", payment_terms_type="net", days_of_credit=30
            ),
            PaymentTerms(payment_terms_number=7, name="Kontant", payment_terms_type="paidInCash"),
        ],
        [
            _zone(5, "Momsfri indland"),
            _zone(6, "Indland"),
            _zone(7, "EU"),
            _zone(8, "Udland"),
            _zone(9, "Udland leverandør", customer=False),
        ],
        [
            Layout(layout_number=2, name="Faktura", deleted=True),
            Layout(layout_number=4, name="Standardfaktura"),
        ],
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
        [CustomerGroup(customer_group_number=1, name="Kunder")],
        [
            PaymentTerms(
                payment_terms_number=2, name="Lobende maned", payment_terms_type="invoiceMonth"
            )
        ],
        [_zone(1, "Zone A")],
        [],
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
