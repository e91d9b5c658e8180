"""The `python -m lb_<service>` entry point shared by every service."""

from __future__ import annotations

import asyncio

from lb_common.logging import configure_logging
from lb_common.runtime import ServiceParts, ServiceRuntime
from lb_common.settings import ServiceSettings


def run_service(name: str, parts: ServiceParts, settings: ServiceSettings) -> None:
    common = settings.common
    configure_logging(name, level=common.log_level, json_lines=common.log_json)
    asyncio.run(ServiceRuntime(parts).serve(common.host, settings.port))
