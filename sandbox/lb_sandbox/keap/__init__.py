"""Keap's REST API v1 (orders, contacts, REST hooks) and its hook deliveries, emulated."""
