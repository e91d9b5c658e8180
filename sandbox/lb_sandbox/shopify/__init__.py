"""Shopify GraphQL Admin API emulation (the parts ledgerbridge uses), mounted under /shopify."""
