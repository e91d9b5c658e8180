"""Where the tests find RabbitMQ and PostgreSQL.

In order: the URL in the environment (`LEDGERBRIDGE_AMQP_URL`,
`LEDGERBRIDGE_TEST_POSTGRES_URL`); else a throwaway container (testcontainers) when a Docker
engine answers; else the local services every development and CI machine runs on 127.0.0.1.
Containers are started once per test session, on first use, and removed when it ends.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
#: The database the tests connect to in order to create and drop their own databases.
LOCAL_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@functools.cache
def _docker() -> Any | None:
    """A Docker client if testcontainers is installed and an engine answers, else None."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:  # no socket, no permission, no engine: use the local services
        return None
    return client


def _start(container: Any) -> Any:
    container.start()
    atexit.register(container.stop)
    return container


@functools.cache
def amqp_url() -> str:
    if url := os.environ.get("LEDGERBRIDGE_AMQP_URL"):
        return url
    if _docker() is not None:
        from testcontainers.community.rabbitmq import RabbitMqContainer

        broker = _start(RabbitMqContainer("rabbitmq:3.13-alpine"))
        params = broker.get_connection_params()
        log.info("tests use a RabbitMQ container at %s:%s", params.host, params.port)
        return f"amqp://guest:guest@{params.host}:{params.port}/"
    return LOCAL_AMQP_URL


@functools.cache
def postgres_url() -> str:
    """A SQLAlchemy URL (asyncpg) of a database the tests may create databases from."""
    if url := os.environ.get("LEDGERBRIDGE_TEST_POSTGRES_URL"):
        return url
    if _docker() is not None:
        from testcontainers.community.postgres import PostgresContainer

        server = _start(PostgresContainer("postgres:15-alpine", driver="asyncpg"))
        return str(server.get_connection_url())
    return LOCAL_POSTGRES_URL
