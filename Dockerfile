# One image for every process: web, worker (per queue), beat. Choose with the command.
#   docker run IMAGE web | worker <queues> | beat | manage <command>
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OPSCONDUCTOR_ENV=production DJANGO_SETTINGS_MODULE=config.settings
RUN apt-get update && apt-get install -y --no-install-recommends openssh-client curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 opsconductor
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=opsconductor:opsconductor . /app
RUN SECRET_KEY=build JWT_SIGNING_KEY=build OPSCONDUCTOR_SEAL_KEYS=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
    DATABASE_URL=postgres://build@localhost/build CELERY_BROKER_URL=amqp://localhost// \
    python manage.py collectstatic --noinput
USER opsconductor
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
