"""Shopify Admin REST emulation (the parts ledgerbridge uses), mounted under /shopify."""
