"""The `python -m lb_<service>` entry point shared by every service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lb_common.logging import configure_logging
from lb_common.runtime import ServiceParts, ServiceRuntime
from lb_common.settings import ServiceSettings


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    # uvloop (installed with uvicorn[standard]) roughly halves the event loop's own cost per
    # request; plain asyncio remains the fallback where it cannot be installed.
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_service(name: str, parts: ServiceParts, settings: ServiceSettings) -> None:
    common = settings.common
    configure_logging(name, level=common.log_level, json_lines=common.log_json)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(ServiceRuntime(parts).serve(common.host, settings.port))
