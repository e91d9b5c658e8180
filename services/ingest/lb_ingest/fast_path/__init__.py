"""ingest's fast path: how webhook deliveries become stored rows at a thousand a second.

What is here is faster storage behind the same model and decisions (orders.Order through
order_repository.py, acceptance.py), not a second way of doing them:

- writer.py: group commit. Requests queue their deliveries; one task stores all that wait in one
  transaction and answers each after the commit.
- processor.py: a worker applies deliveries that `web` processes stored, in batches.
- batch.py: what one batch reads (one query per table) and writes (one executemany per table,
  Core rows, no ORM objects).
- identify.py: a `web` process admits an order by its id, without reading the whole order.
- route.py: the webhook endpoint is served as a plain Starlette route and documented in OpenAPI.

Measured with bench/ingest_webhooks.py (signed 11 kB Shopify orders, 32 connections, SQLite, one
`web` and one `worker` process, 2 cores shared with other work; README "Figures"): 1,129-1,935
accepted/s with p99 34-64 ms; CPU per webhook: web 0.27-0.32 ms, worker 0.32-0.43 ms. One at a
time: p50 about 3 ms idle, 4-7 ms while the worker applies a backlog. One `all` process, which
stores and applies each batch itself: 412-458/s, p99 about 200 ms (before issue #18's work).
"""
