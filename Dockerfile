# syntax=docker/dockerfile:1
# The Retrofit image: workers (`retrofit worker`), the CLI, and the demo legacy systems
# (`python -m legacy.<system>.server`), with the `postgres` extra (psycopg) for the audit store and
# SQL connectors on PostgreSQL. docker-compose.yml runs every Retrofit service from this one image.

# Pinned by tag: a rebuild months from now gets the same Python minor release and Debian base.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged account: nothing in a worker needs root, and a fixed uid lets operators
# grant volume permissions without guessing.
RUN groupadd --system --gid 10001 retrofit \
    && useradd --system --uid 10001 --gid retrofit --home-dir /var/lib/retrofit --create-home \
       --shell /usr/sbin/nologin retrofit

WORKDIR /opt/retrofit
# Only what the package is built from (see .dockerignore): tests, docs and local state stay out.
COPY pyproject.toml README.md ./
COPY retrofit ./retrofit
COPY connectors ./connectors
COPY workflows ./workflows
COPY legacy ./legacy
# A regular (non-editable) install: the source tree above is not needed at run time.
RUN pip install ".[postgres]"

USER retrofit
WORKDIR /var/lib/retrofit
# Local state (WSDL cache, default SQLite files) in the account's own, writable directory.
ENV RETROFIT_DATA_DIR=/var/lib/retrofit

# Healthy = Temporal is reachable and a worker in this container polls its task queue (see
# retrofit/healthcheck.py). Services that run something else from this image override it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
    CMD ["python", "-m", "retrofit.healthcheck", "worker"]

CMD ["retrofit", "worker"]
