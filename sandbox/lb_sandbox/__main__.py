"""`python -m lb_sandbox`: serve the sandbox with uvicorn (host/port from LEDGERBRIDGE_SANDBOX_*)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .settings import SandboxSettings


def main() -> None:
    settings = SandboxSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
