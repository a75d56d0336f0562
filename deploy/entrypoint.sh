#!/bin/sh
# Process selector of the container image: one image, every role (docs/deploy.md).
#   web                 the HTTP application (gunicorn, threaded workers) on $WEB_BIND:$PORT
#   streams             the live streams of runs (uvicorn, ASGI) on $WEB_BIND:$PORT (default 8001)
#   worker [QUEUES]     a Celery worker on the comma-separated queues (default: all of them)
#   beat                Celery beat: the scheduler's clock and the periodic sweeps (run one)
#   migrate             migrate every database alias (run once per deploy, before new web
#                       processes start: the one migrator)
#   collectstatic       copy the static files to $STATIC_ROOT (served by the gateway)
#   healthcheck [ROLE]  the image's HEALTHCHECK: exit 0 when this container's process is well
#   manage ARGS         any manage.py command
#   anything else       run as given
set -e
cmd=${1:-web}
[ $# -gt 0 ] && shift

# The role of the container's main process, for the health check (which runs beside it).
main_role() {
  if [ -r /proc/1/cmdline ]; then
    main=$(tr '\0' ' ' < /proc/1/cmdline)
    case "$main" in
      *gunicorn*) echo web; return ;;
      *uvicorn*) echo streams; return ;;
      *celery*" beat"*) echo beat; return ;;
      *celery*" worker"*) echo worker; return ;;
    esac
  fi
  echo other
}

case "$cmd" in
  web)
    # Threads, not processes, per request: WEB_THREADS bounds the requests a process serves at
    # once. Live streams go to the streams role (the gateway routes them there): here one
    # would hold a thread for as long as it is open. Keep-alive longer than the gateway's
    # upstream keepalive_timeout (60 s).
    # The worker class is gunicorn's gthread answering its own errors (a request line over
    # 8190 bytes, malformed HTTP) in the API's JSON error shape (opsconductor/web_server.py);
    # the request line limit is gunicorn's maximum, the application's own URL limit
    # (API_MAX_URL_BYTES, 8000) is below it and answers 414 in the same shape.
    exec gunicorn config.wsgi:application --bind "${WEB_BIND:-0.0.0.0}:${PORT:-8000}" \
      --worker-class opsconductor.web_server.ThreadWorker --limit-request-line 8190 \
      --workers "${WEB_WORKERS:-4}" --threads "${WEB_THREADS:-16}" \
      --keep-alive "${WEB_KEEPALIVE_SECONDS:-75}" --graceful-timeout 30 --timeout 60 \
      --access-logfile - \
      --access-logformat '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s' \
      "$@" ;;
  streams)
    # Live streams of runs (Server-Sent Events): an open stream is a coroutine, not a thread,
    # and holds no database connection (opsconductor/asgi.py, docs/adr/0019). One process
    # serves thousands; STREAMS_WORKERS more for CPU. Forwarded headers are Django's to judge
    # (TRUSTED_PROXIES), as behind gunicorn. A stop ends the open streams after 5 s: their
    # clients reconnect with Last-Event-ID and miss nothing.
    exec uvicorn config.asgi:application --host "${WEB_BIND:-0.0.0.0}" --port "${PORT:-8001}" \
      --workers "${STREAMS_WORKERS:-1}" --lifespan off --no-proxy-headers \
      --timeout-keep-alive "${WEB_KEEPALIVE_SECONDS:-75}" --timeout-graceful-shutdown 5 \
      --log-level "$(printf '%s' "${LOG_LEVEL:-INFO}" | tr '[:upper:]' '[:lower:]')" "$@" ;;
  worker)
    queues=${1:-${WORKER_QUEUES:-kernel,accounts,targets,jobs,execution,scheduling,audit}}
    [ $# -gt 0 ] && shift
    # threads: the work waits on SSH and the database, and the SSH pool lives in the process
    # (docs/adr/0008, 0009); one database connection per thread; a thread runs a slice of up to
    # EXECUTION_SLICE_SIZE targets, each in a thread of its own. Queue names get the
    # CELERY_QUEUE_PREFIX like the application's.
    prefixed=$(printf '%s' "$queues" | tr ',' '\n' | sed "s/^/${CELERY_QUEUE_PREFIX:-}/" | paste -sd, -)
    exec celery -A config worker -Q "$prefixed" -P threads -c "${WORKER_THREADS:-16}" \
      --hostname "${WORKER_NAME:-worker}@%h" --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  beat)
    exec celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler \
      --schedule "${BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" --pidfile= "$@" ;;
  migrate)
    exec python manage.py migrate_all "$@" ;;
  collectstatic)
    exec python manage.py collectstatic --noinput "$@" ;;
  healthcheck)
    role=${1:-$(main_role)}
    case "$role" in
      web|streams)
        [ "$role" = streams ] && export PORT="${PORT:-8001}"
        # /healthz as the gateway would ask: an allowed host name and the https scheme (in
        # production the application redirects http and refuses unknown hosts).
        exec python - <<'PY'
import os, sys, urllib.request
hosts = [h.strip().lstrip(".") for h in os.environ.get("ALLOWED_HOSTS", "").split(",")]
host = next((h for h in hosts if h and "*" not in h), "localhost")
request = urllib.request.Request(
    f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
PY
        ;;
      worker)
        # the worker's own consumer answers a ping through the broker
        exec celery -A config inspect ping --timeout 5 \
          --destination "${WORKER_NAME:-worker}@$(hostname)" ;;
      *)
        # beat and one-shot commands: the process is there (docker restarts it when it exits)
        exit 0 ;;
    esac ;;
  manage)
    exec python manage.py "$@" ;;
  *)
    exec "$cmd" "$@" ;;
esac
