# One image for every process of OpsConductor; the command picks the role (deploy/entrypoint.sh):
#   docker run IMAGE web | worker [QUEUES] | beat | migrate | collectstatic | manage <command>
# docs/deploy.md shows the whole topology (deploy/compose.yaml).

# --- build: the virtualenv with the pinned requirements, and the collected static files --------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
WORKDIR /app
COPY . /app
# collectstatic needs settings, not secrets or services: the embedded default with throw-away
# keys in a directory that is not copied into the final image
RUN OPSCONDUCTOR_ENV=development OPSCONDUCTOR_VAR_DIR=/tmp/build-var STATIC_ROOT=/app/staticfiles \
    /opt/venv/bin/python manage.py collectstatic --noinput \
    && /opt/venv/bin/python -m compileall -q /app > /dev/null

# --- runtime: Python, the venv, the code; no compilers, no curl, no secrets ------------------
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OPSCONDUCTOR_ENV=production DJANGO_SETTINGS_MODULE=config.settings \
    OPSCONDUCTOR_VAR_DIR=/var/lib/opsconductor STATIC_ROOT=/app/staticfiles PORT=8000
RUN useradd --system --no-create-home --home-dir /var/lib/opsconductor --uid 10001 opsconductor \
    && install -d -o opsconductor -g opsconductor -m 0750 /var/lib/opsconductor \
    && install -d -o opsconductor -g opsconductor -m 0755 /srv/opsconductor/static
COPY --from=build /opt/venv /opt/venv
# the code is root's and read-only to the process; writable: /var/lib/opsconductor, and
# /srv/opsconductor/static (a volume shared with the gateway, filled by `collectstatic`)
COPY --from=build /app /app
WORKDIR /app
USER opsconductor
EXPOSE 8000
# web: /healthz as the gateway asks it; worker: a ping through the broker; beat: alive
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/app/deploy/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
