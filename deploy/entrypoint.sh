#!/bin/sh
# Process selector for the container image (see docs/deploy.md).
set -e
cmd=${1:-web}
[ $# -gt 0 ] && shift
case "$cmd" in
  web)
    exec gunicorn config.wsgi:application --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_WORKERS:-4}" --threads "${WEB_THREADS:-4}" --access-logfile - \
      --access-logformat '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s' \
      "$@" ;;
  worker)
    queues=${1:-kernel,accounts,targets,jobs,execution,scheduling,audit}
    [ $# -gt 0 ] && shift
    # threads: the work waits on SSH and the database, and the SSH pool lives in the process
    # (docs/adr/0008, 0009); one database connection per thread; a thread runs a slice of up to
    # EXECUTION_SLICE_SIZE targets, each in a thread of its own
    exec celery -A config worker -Q "$queues" -P threads -c "${WORKER_THREADS:-16}" \
      --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  beat)
    exec celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler --pidfile= "$@" ;;
  migrate)
    exec python manage.py migrate_all "$@" ;;
  manage)
    exec python manage.py "$@" ;;
  *)
    exec "$cmd" "$@" ;;
esac
