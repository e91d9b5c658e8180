"""Keap's REST API v1 (orders, contacts, REST hooks): the client ingest's fetcher and hook
checks use. The webhook side (handshake, ids-only deliveries) is the platform adapter's,
lb_connectors/platforms/keap.py."""

from .client import KeapClient, KeapHook
from .directory import KeapDirectory
from .errors import KeapAuthError, KeapError, KeapRateLimited, KeapRejected, KeapUnavailable

__all__ = [
    "KeapAuthError",
    "KeapClient",
    "KeapDirectory",
    "KeapError",
    "KeapHook",
    "KeapRateLimited",
    "KeapRejected",
    "KeapUnavailable",
]
