"""Alembic environment of the inventory service: see lb_common.migrations."""

from lb_common.migrations import run_env
from lb_inventory.store import TABLES

run_env(TABLES)
