"""Alembic environment of the console: see lb_common.migrations."""

from lb_common.migrations import run_env
from lb_console.store import TABLES

run_env(TABLES)
