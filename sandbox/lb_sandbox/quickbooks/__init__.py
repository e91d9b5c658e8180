"""QuickBooks Online's Accounting API v3 and its OAuth 2.0 token service, under /quickbooks."""
