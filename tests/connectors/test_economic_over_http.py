"""The client against the sandbox served by uvicorn on a real socket."""

from __future__ import annotations

import asyncio
import socket
import threading
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


async def test_a_request_leaves_in_one_write() -> None:
    """Head and body of a POST reach the server in one piece (one_write.py), not as two
    segments; the answer is read as before. The server reads on a thread of its own, as soon
    as anything arrives."""
    chunks: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while not received.endswith(b"}"):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                chunks.append(chunk)
                received += chunk
            body = b'{"customerNumber": 7, "name": "Jane"}'
            conn.sendall(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        async with EconomicClient(f"http://127.0.0.1:{port}", "app", "grant", timeout=5) as client:
            data = await client._call(
                "POST", "/customers", what="the customer", body={"name": "Jane"}
            )
    finally:
        listener.close()
        server.join(timeout=5)
    assert data == {"customerNumber": 7, "name": "Jane"}
    assert len(chunks) == 1
    head, _, body = chunks[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /customers HTTP/1.1") and body == b'{"name":"Jane"}'
