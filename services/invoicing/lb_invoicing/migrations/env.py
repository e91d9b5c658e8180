"""Alembic environment of the invoicing service: see lb_common.migrations."""

from lb_common.migrations import run_env
from lb_invoicing.store import TABLES

run_env(TABLES)
