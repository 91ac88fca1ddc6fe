# syntax=docker/dockerfile:1
# runstrong: a slim, non-root image that migrates, seeds and serves on port 8000.
#
#   docker build -t runstrong .
#   docker run -p 8000:8000 -v runstrong-data:/data runstrong
#
# Production passes a PostgreSQL URL instead of the SQLite default, and a secret:
#   -e DATABASE_URL=postgresql+psycopg://user:pass@host:5432/runstrong
#   -e RUNSTRONG_ENVIRONMENT=production -e RUNSTRONG_SECRET_KEY=...
# WEB_CONCURRENCY sets uvicorn's worker processes (default 1; SQLite is best left at 1).
# FORWARDED_ALLOW_IPS lists the proxies whose X-Forwarded-* headers are trusted.
# RUNSTRONG_METRICS_PORT=9464 serves /metrics on its own port (one listener for all workers;
# keep it unpublished); RUNSTRONG_ENVIRONMENT=production turns /docs and /openapi.json off.
# deploy/compose.yaml shows the production shape: PostgreSQL, a migrations job, the API
# (`runstrong serve` only) behind a load balancer. Every RUNSTRONG_* setting is in the README.

# ---------------------------------------------------------------- builder
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# uv itself comes from PyPI, pinned to the version the Makefile uses.
RUN pip install --no-cache-dir "uv==0.13.8"

WORKDIR /app

# Locked third-party dependencies first: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# Then the project. Installing it (editable, pointing at /app) gives the `runstrong`
# command and the package metadata that create_app() reads its version from.
COPY README.md alembic.ini ./
COPY migrations/ ./migrations/
COPY app/ ./app/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
    && python -m compileall -q app migrations

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 runstrong \
    && useradd --system --uid 10001 --gid runstrong --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin runstrong \
    && mkdir /data \
    && chown runstrong:runstrong /data

# PYTHONPATH=/app: `app` imports from /app, so migrations are found at /app/migrations.
# The SQLite default lives in the /data volume; production passes a
# postgresql+psycopg:// URL in DATABASE_URL instead.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/runstrong.db \
    WEB_CONCURRENCY=1 \
    FORWARDED_ALLOW_IPS=127.0.0.1

WORKDIR /app
# Code and virtualenv stay owned by root: the service user can read them, not change them.
COPY --from=builder /app /app

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

# Liveness only (no database work); /readyz is the readiness probe for orchestrators.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# Migrate and seed (both idempotent), then exec the server so it receives SIGTERM directly
# (in-flight requests finish within RUNSTRONG_GRACEFUL_SHUTDOWN_S). `runstrong serve` reads
# WEB_CONCURRENCY and FORWARDED_ALLOW_IPS, writes JSON logs and shares metrics between
# workers. With several replicas on PostgreSQL, run `runstrong migrate` as a one-off
# release step instead (deploy/compose.yaml) and start replicas with `runstrong serve`.
CMD ["sh", "-c", "runstrong migrate && runstrong seed && exec runstrong serve --host 0.0.0.0 --port 8000"]
