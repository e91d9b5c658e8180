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
`web` and one `worker` process, 2 cores; README "Figures"): about 1,000 accepted/s with p99 near
65 ms; CPU per webhook: web 0.53-0.71 ms, worker 0.63-0.80 ms. One `all` process, which stores
and applies each batch itself: 412-458/s, p99 about 200 ms.
"""
