"""`python -m lb_sandbox`: serve the sandbox with uvicorn (host/port from LEDGERBRIDGE_SANDBOX_*)."""

from __future__ import annotations

import sys

import uvicorn

from .app import create_app
from .persistence import SandboxStateError
from .settings import SandboxSettings


def main() -> None:
    settings = SandboxSettings()
    try:
        app = create_app(settings)
    except SandboxStateError as exc:
        sys.exit(str(exc))
    if settings.state_file is not None:
        print(f"sandbox: the e-conomic agreements are kept in {settings.state_file}", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
