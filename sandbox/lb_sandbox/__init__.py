"""An in-memory emulator of Visma e-conomic's REST API, for the demo and for tests.

Run: `python -m lb_sandbox` (LEDGERBRIDGE_SANDBOX_HOST / _PORT, default 127.0.0.1:8100); point a
client at `http://127.0.0.1:8100/economic`. Each X-AgreementGrantToken is its own seeded agreement
(`demo`/`demo` is the demo one). Admin: GET /healthz, GET /_sandbox/agreements/{token}/state,
GET/DELETE /_sandbox/agreements/{token}/calls (calls counted by endpoint),
POST /_sandbox/reset[?agreement=token], POST/GET/DELETE /_sandbox/faults.
In tests: `httpx.ASGITransport(app=lb_sandbox.app.create_app())`.
"""
