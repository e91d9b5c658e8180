# syntax=docker/dockerfile:1
# One image for the four services and the e-conomic sandbox; docker-compose.yml picks the
# command per container (`python -m lb_ingest`, `python -m lb_customers`, ..., `python -m lb_sandbox`).

# --- build: install the project (not editable) into a virtualenv ------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the package build needs: pyproject.toml and the package source roots it lists.
COPY pyproject.toml ./
COPY libs ./libs
COPY services ./services
COPY sandbox ./sandbox
RUN pip install --upgrade pip \
 && pip install . \
 && python -c "import lb_common, lb_connectors, lb_ingest, lb_customers, lb_invoicing, lb_inventory, lb_sandbox"

# --- runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim

# LEDGERBRIDGE_HOST / _SANDBOX_HOST: listen on every interface inside the container (the code's
# default is 127.0.0.1). LEDGERBRIDGE_DATA_DIR: SQLite files, should a service run without a
# database URL (compose always gives one). LEDGERBRIDGE_HEALTHCHECK_PORT: the port the HEALTHCHECK
# below probes; compose sets it per container (8001-8004, 8100). It is read by the healthcheck
# only, not by the services.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEDGERBRIDGE_HOST=0.0.0.0 \
    LEDGERBRIDGE_SANDBOX_HOST=0.0.0.0 \
    LEDGERBRIDGE_DATA_DIR=/app/data \
    LEDGERBRIDGE_HEALTHCHECK_PORT=8001

RUN groupadd --system --gid 10001 ledgerbridge \
 && useradd --system --uid 10001 --gid ledgerbridge --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin ledgerbridge \
 && mkdir -p /app/data \
 && chown -R ledgerbridge:ledgerbridge /app

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
USER ledgerbridge:ledgerbridge

EXPOSE 8001 8002 8003 8004 8100

# Liveness of the HTTP server, with the standard library only (the image has no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LEDGERBRIDGE_HEALTHCHECK_PORT', '8001') + '/healthz', timeout=4)"]

# Services drain on SIGTERM (stop consuming, finish in-flight work, flush the outbox): python is
# PID 1 here (exec form), so it receives the signal directly.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "lb_ingest"]
