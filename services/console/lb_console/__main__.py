"""`python -m lb_console`: the console's web server (no broker, no consumers)."""

from __future__ import annotations

import asyncio

import uvicorn

from lb_common.logging import configure_logging
from lb_console.bootstrap import bootstrap
from lb_console.settings import ConsoleSettings


async def serve(settings: ConsoleSettings) -> None:
    parts = bootstrap(settings)
    await parts.start()
    server = uvicorn.Server(
        uvicorn.Config(
            parts.app,
            host=settings.common.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    )
    try:
        await server.serve()  # returns on SIGTERM/SIGINT after open requests finish
    finally:
        await parts.stop()


if __name__ == "__main__":
    settings = ConsoleSettings()
    configure_logging(
        "console", level=settings.common.log_level, json_lines=settings.common.log_json
    )
    asyncio.run(serve(settings))
