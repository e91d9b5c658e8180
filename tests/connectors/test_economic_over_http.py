"""The client against the sandbox served by uvicorn on a real socket."""

from __future__ import annotations

import asyncio
import socket
import uuid
from decimal import Decimal

import uvicorn

from lb_connectors.economic import EconomicClient, Field
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_client_over_a_real_socket() -> None:
    port = _free_port()
    app = create_app(SandboxSettings(port=port))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        base = f"http://127.0.0.1:{port}/economic"
        async with EconomicClient(base, "app", f"grant-{uuid.uuid4().hex}", timeout=5) as client:
            product = await client.get_product("MUG-BLACK")
            assert product is not None and product.sales_price == Decimal("60.00")
            found = [p async for p in client.iter_products(Field("name").like("shirt"))]
            assert [p.product_number for p in found] == ["TSHIRT-RED-M"]
            status = client._pacer.status
            assert status is not None and status.limit == 10000
    finally:
        server.should_exit = True
        await serving
