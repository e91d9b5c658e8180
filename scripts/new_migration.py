"""Autogenerate a service's next schema migration from its models.

    .venv/bin/python scripts/new_migration.py <ingest|customers|invoicing|inventory> "message"

A scratch SQLite database is upgraded to the current head and compared with the service's
models (its `store.TABLES` plus outbox and inbox); the differences are written to
`services/<service>/lb_<service>/migrations/versions/<NNNN>_<message>.py`. Review the file
before committing it: autogenerate misses renames (it drops and adds) and server defaults.
`--empty` writes an empty revision, for data migrations written by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import subprocess
import sys
from pathlib import Path

from lb_common.migrations import new_revision

SERVICES = ("ingest", "customers", "invoicing", "inventory")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("message")
    parser.add_argument("--empty", action="store_true", help="write it even with no changes")
    args = parser.parse_args()
    package = importlib.import_module(f"lb_{args.service}")
    store = importlib.import_module(f"lb_{args.service}.store")
    location = Path(package.__file__ or "").parent / "migrations"
    written = asyncio.run(
        new_revision(location, store.TABLES, args.message, allow_empty=args.empty)
    )
    if written is None:
        print("the models and the migrations agree: nothing to write (--empty to force)")
        return 1
    # Formatted like the rest of the code (`make lint` checks it).
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():
        subprocess.run([str(ruff), "format", "--quiet", str(written)], check=False)
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
