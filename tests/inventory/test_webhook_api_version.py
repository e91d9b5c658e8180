"""Webhook intake stays as it is (JSON bodies); a delivery in another Shopify API version than
the pinned one is warned about, once per version."""

from __future__ import annotations

import logging

from lb_connectors.shopify_admin import API_VERSION
from lb_ingest.webhooks import note_api_version


def test_a_webhook_in_another_api_version_is_warned_about_once(caplog):
    caplog.set_level(logging.WARNING)
    assert note_api_version("shopify", API_VERSION) is False
    assert note_api_version("shopify", None) is False
    assert note_api_version("woocommerce", "wc/v3") is False
    assert note_api_version("shopify", "2099-01") is True
    assert note_api_version("shopify", "2099-01") is False
    assert any(
        "2099-01" in r.getMessage() and API_VERSION in r.getMessage() for r in caplog.records
    )


def test_the_pinned_version_is_the_settings_default():
    from lb_common.settings import CommonSettings

    assert CommonSettings().shopify_api_version == API_VERSION
