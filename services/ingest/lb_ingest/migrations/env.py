"""Alembic environment of the ingest service: see lb_common.migrations."""

from lb_common.migrations import run_env
from lb_ingest.store import TABLES

run_env(TABLES)
