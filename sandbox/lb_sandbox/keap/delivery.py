"""Keap's side of REST hooks: the handshake and the deliveries [K1; KH].

- Handshake: on subscribing (and on /verify) Keap POSTs to the hook URL with a header
  X-Hook-Secret; a 200 that echoes it in the same header makes the hook Verified, anything
  else leaves it Unverified. Nothing is delivered to a hook that is not Verified.
- Delivery: {"event_key", "object_type", "object_keys": [{"id", "timestamp"}]}, no signature.
  A failure is no answer within 30 s or a status below 200 or from 400 up. Keap tries 4 times
  (30-60 s after the change, then +30-60 s, +5 min, +30 min); here each
  POST /_sandbox/keap/{key}/hooks/deliver is one attempt for what is waiting, so tests need
  not wait. A 410, or the 4th failure, makes the hook Inactive (until /verify) and what was
  waiting for it is dropped, as Keap drops it.
"""

from __future__ import annotations

from typing import Any

import httpx

from .state import ATTEMPTS, Entity, Tenant, new_hook_secret

HANDSHAKE_HEADER = "X-Hook-Secret"
TIMEOUT = 30.0


def client_for(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """Where hooks go: the network, or (tests) an in-process app."""
    return httpx.AsyncClient(transport=transport, timeout=TIMEOUT)


async def handshake(tenant: Tenant, hook: Entity, client: httpx.AsyncClient) -> Entity:
    secret = new_hook_secret()
    hook["_secret"] = secret  # what /delayedVerify must present later
    verified = False
    status: int | None = None
    try:
        answer = await client.post(hook["hookUrl"], headers={HANDSHAKE_HEADER: secret})
        status = answer.status_code
        verified = status == 200 and answer.headers.get(HANDSHAKE_HEADER) == secret
    except httpx.HTTPError:
        verified = False
    hook["status"] = "Verified" if verified else "Unverified"
    tenant.handshakes.append({"hook": hook["key"], "status_code": status, "verified": verified})
    return hook


def body_of(event_key: str, object_type: str, objects: list[Entity]) -> Entity:
    return {"event_key": event_key, "object_type": object_type, "object_keys": objects}


async def deliver(tenant: Tenant, client: httpx.AsyncClient, *, duplicate: bool) -> list[Entity]:
    """One attempt for every waiting event of every Verified hook (`duplicate`: each sent twice,
    as when Keap retries a delivery whose answer came too late)."""
    sent = []
    for hook_key, waiting in list(tenant.pending.items()):
        hook = tenant.hooks.get(hook_key)
        if hook is None or hook["status"] != "Verified":
            continue
        for event in list(waiting):
            body = body_of(event.event_key, event.object_type, event.objects)
            outcomes = [await _post(client, hook["hookUrl"], body)]
            if duplicate:
                outcomes.append(await _post(client, hook["hookUrl"], body))
            status = outcomes[0]
            ok = status is not None and 200 <= status < 400
            record: dict[str, Any] = {
                "hook": hook_key,
                "event_key": event.event_key,
                "status_code": status,
                "objects": [o["id"] for o in event.objects],
                "times": len(outcomes),
            }
            if ok:
                waiting.remove(event)
                record["outcome"] = "delivered"
            else:
                event.failures += 1
                if status == 410 or event.failures >= ATTEMPTS:
                    hook["status"] = "Inactive"
                    tenant.pending[hook_key] = []
                    record["outcome"] = "hook inactive"
                    sent.append(record)
                    tenant.deliveries.append(record)
                    break
                record["outcome"] = f"failed ({event.failures} of {ATTEMPTS})"
            sent.append(record)
            tenant.deliveries.append(record)
    return sent


async def _post(client: httpx.AsyncClient, url: str, body: Entity) -> int | None:
    try:
        return (await client.post(url, json=body)).status_code
    except httpx.HTTPError:
        return None
