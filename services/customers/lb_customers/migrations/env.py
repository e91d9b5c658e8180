"""Alembic environment of the customers service: see lb_common.migrations."""

from lb_common.migrations import run_env
from lb_customers.store import TABLES

run_env(TABLES)
