"""Alert delivery: which outcomes mean an alert, and telling channels (signed webhooks, email).

The flow: when a run of a schedule (or job) ends, the caller, inside its
``transaction.atomic(using="scheduling")``, asks ``outcome_events`` which alert events the
outcome means (a failure, a success, a recovery after failures) and calls ``notify`` for each.
``notify`` writes one pending ``NotificationDelivery`` per channel and, once that transaction
commits, queues ``apps.scheduling.tasks.deliver_notification`` for each; the task calls
``deliver`` which makes one attempt. A failed attempt is retried with exponential backoff by the
periodic sweep (``retry_due``), which also picks up deliveries whose task never got queued
(broker down) or whose worker died mid-attempt. Delivery problems are logged and recorded on the
delivery row; they never raise into, nor change, the run that caused them.

Webhooks are POSTs of the compact, key-sorted JSON payload, signed with HMAC-SHA256 under the
channel's sealed secret::

    X-OpsConductor-Timestamp: <unix seconds>
    X-OpsConductor-Signature: sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>
    X-OpsConductor-Event:     failed | succeeded | missed | recovered | test
    X-OpsConductor-Delivery:  <delivery id; the same on every retry, for receivers to dedupe>

Redirects are never followed and proxy environment variables are never used.

``send_test`` sends a channel a test notice (event ``test``, ``"test": true`` in the body)
through the same path, one attempt and no retries, recorded in the delivery log like any other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from apps.scheduling.models import (
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
)
from opsconductor.db.reconnect import release_connections
from opsconductor.sealing import SealError, unseal

logger = logging.getLogger(__name__)

DB = "scheduling"
DELIVER_TASK = "apps.scheduling.tasks.deliver_notification"

SIGNATURE_HEADER = "X-OpsConductor-Signature"
TIMESTAMP_HEADER = "X-OpsConductor-Timestamp"
EVENT_HEADER = "X-OpsConductor-Event"
DELIVERY_HEADER = "X-OpsConductor-Delivery"
USER_AGENT = "OpsConductor-Webhook/1"

DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 24 * 3600
# A pending delivery with no next attempt time this old was never queued (broker down at commit).
NEVER_QUEUED_AFTER = timedelta(seconds=60)
# While an attempt runs, its delivery is leased for the attempt's timeout plus this margin, so the
# sweep does not deliver it twice; a worker that dies mid-attempt leaves it to the sweep after.
LEASE_MARGIN_SECONDS = 60
RESPONSE_SNIPPET_CHARS = 200
ATTEMPT_LOG_LIMIT = 20  # attempts kept in a delivery's attempt_log (the last ones)
ERROR_CHARS = 1000  # NotificationDelivery.last_error's size

SUCCESS_STATUSES = frozenset({"succeeded"})
FAILURE_STATUSES = frozenset({"failed", "timed_out"})
NEUTRAL_STATUSES = frozenset({"canceled"})

# Payload fields an email lists first (in this order); any other scalar fields follow, sorted.
EMAIL_FIELDS = (
    "event",
    "subject",
    "schedule_name",
    "schedule_id",
    "job_name",
    "job_id",
    "run_id",
    "status",
    "reason",
    "error",
    "trigger",
    "duration_ms",
    "counts",
    "missed",
    "scheduled_for",
    "started_at",
    "finished_at",
    "url",
    "message",
    "channel_name",
)


# --- settings, read on every call so they can change at run time (and in tests) ---------------


def timeout_seconds() -> float:
    return float(getattr(settings, "SCHEDULING_WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def max_attempts() -> int:
    return int(getattr(settings, "SCHEDULING_WEBHOOK_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def backoff_seconds(attempts: int) -> float:
    """The wait after the ``attempts``-th failed attempt: BACKOFF * 2**(attempts-1), capped."""
    base = float(getattr(settings, "SCHEDULING_WEBHOOK_BACKOFF_SECONDS", DEFAULT_BACKOFF_SECONDS))
    return min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


# --- signatures -------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 under ``secret`` of ``b"<timestamp>." + body``."""
    message = f"{int(timestamp)}.".encode() + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: int,
    body: bytes,
    signature: str,
    *,
    max_age_seconds: int | None = None,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` is ``sign(secret, timestamp, body)`` (compared in constant time).

    What a receiver does with the headers; ``max_age_seconds`` also rejects old timestamps
    (replays).
    """
    try:
        timestamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if not isinstance(signature, str):
        return False
    if max_age_seconds is not None:
        current = time.time() if now is None else now
        if abs(current - timestamp) > max_age_seconds:
            return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def encode_body(payload: dict) -> bytes:
    """The exact bytes POSTed (and signed): compact JSON, sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


# --- which outcomes alert -----------------------------------------------------------------------


def outcome_events(*, subject: str, status: str) -> list[str]:
    """Record a finished run's ``status`` for ``subject`` and return the alert events it means.

    ``succeeded`` -> ``["succeeded"]``, plus ``"recovered"`` after one or more failures;
    ``failed``/``timed_out`` -> ``["failed"]``; ``canceled`` -> ``[]`` (recorded, but it neither
    ends nor extends a failure streak: failed, canceled, succeeded is still a recovery). Any other
    status is not an outcome: nothing is recorded. Call it inside
    ``transaction.atomic(using="scheduling")`` (the row is locked until that commits, so two runs
    ending together still report one recovery).
    """
    if not connections[DB].in_atomic_block:
        raise RuntimeError(f"outcome_events() must run inside transaction.atomic(using={DB!r}).")
    if status not in SUCCESS_STATUSES | FAILURE_STATUSES | NEUTRAL_STATUSES:
        logger.warning("outcome_events: %r is not a finished run status; ignored", status)
        return []

    state = _locked_state(subject)
    previous_failures = state.failures if state else 0
    if status in SUCCESS_STATUSES:
        events = [AlertEvent.SUCCEEDED.value]
        if previous_failures:
            events.append(AlertEvent.RECOVERED.value)
        failures = 0
    elif status in FAILURE_STATUSES:
        events = [AlertEvent.FAILED.value]
        failures = previous_failures + 1
    else:
        events = []
        failures = previous_failures

    if state is None:
        try:
            with transaction.atomic(using=DB):
                AlertState.objects.using(DB).create(
                    subject=subject, last_status=status, failures=failures
                )
            return events
        except IntegrityError:  # another run of the subject ended at the same moment
            return outcome_events(subject=subject, status=status)
    state.last_status = status
    state.failures = failures
    state.save(using=DB, update_fields=["last_status", "failures", "updated_at"])
    return events


def _locked_state(subject: str) -> AlertState | None:
    return AlertState.objects.using(DB).select_for_update().filter(subject=subject).first()


# --- creating deliveries --------------------------------------------------------------------------


def notify(
    *,
    event: str,
    subject: str,
    schedule_id: uuid.UUID | None,
    job_id: uuid.UUID | None,
    payload: dict,
) -> list[uuid.UUID]:
    """Create one pending delivery per enabled channel with a rule on ``schedule_id`` or
    ``job_id`` that lists ``event``, in the caller's transaction; queue their delivery after it
    commits. Returns the delivery ids (in channel name order)."""
    if schedule_id is None and job_id is None:
        return []
    match = Q()
    if schedule_id is not None:
        match |= Q(schedule_id=schedule_id)
    if job_id is not None:
        match |= Q(job_id=job_id)
    rules = (
        AlertRule.objects.using(DB)
        .filter(match, channel__enabled=True)
        .select_related("channel")
        .order_by("channel__name", "created_at")
    )
    channels: dict[uuid.UUID, NotificationChannel] = {}
    for rule in rules:  # ``events`` is a JSON list; matched here (SQLite has no JSON contains)
        if event in (rule.events or []) and rule.channel_id not in channels:
            channels[rule.channel_id] = rule.channel

    if not channels:
        return []
    base = _json_safe(payload)
    sent_at = timezone.now().isoformat()
    deliveries = []
    for channel in channels.values():
        delivery_id = uuid.uuid4()
        deliveries.append(
            NotificationDelivery(
                id=delivery_id,
                channel=channel,
                channel_name=channel.name,
                event=event,
                subject=subject,
                payload={
                    "event": event,
                    "subject": subject,
                    **base,
                    "delivery_id": str(delivery_id),
                    "sent_at": sent_at,
                },
                status=DeliveryStatus.PENDING,
            )
        )
    NotificationDelivery.objects.using(DB).bulk_create(deliveries)
    ids = [delivery.id for delivery in deliveries]
    transaction.on_commit(lambda: queue_deliveries(ids), using=DB)
    return ids


def queue_deliveries(delivery_ids: list[uuid.UUID]) -> int:
    """Send one ``deliver_notification`` task per delivery; returns how many were sent. A send
    that fails is logged and its delivery left pending for the sweep (``retry_due``)."""
    from celery import current_app

    sent = 0
    for delivery_id in delivery_ids:
        try:
            current_app.send_task(DELIVER_TASK, args=[str(delivery_id)])
        except Exception as exc:
            logger.warning(
                "could not queue notification delivery %s (%s: %s); the retry sweep will send it",
                delivery_id,
                type(exc).__name__,
                exc,
            )
        else:
            sent += 1
    return sent


def _json_safe(value: dict) -> dict:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# --- delivering ----------------------------------------------------------------------------------


class _AttemptFailed(Exception):
    def __init__(self, message: str, response_status: int | None = None, excerpt: str = ""):
        super().__init__(message)
        self.response_status = response_status
        self.excerpt = excerpt


def deliver(delivery_id: uuid.UUID | str) -> str:
    """Make one attempt at delivering ``delivery_id``; returns its status afterwards.

    Skipped (status returned unchanged) when it is not pending or its next attempt is not due.
    Never raises: every problem is logged and recorded on the delivery.
    """
    try:
        return _deliver(uuid.UUID(str(delivery_id)))[1]
    except Exception:
        logger.exception("notification delivery %s: unexpected error", delivery_id)
        return DeliveryStatus.PENDING.value


def _deliver(
    delivery_id: uuid.UUID, due_by: datetime | None = None, *, retry: bool = True
) -> tuple[bool, str]:
    """(whether an attempt was made, the status afterwards). ``retry=False``: a failed attempt
    is the last (a test notice)."""
    claimed = _claim(delivery_id, due_by=due_by)
    if isinstance(claimed, str):
        return False, claimed
    delivery, channel = claimed

    # the attempt waits on the network (up to its timeout) and needs no database meanwhile:
    # the thread's connections go back to the pools (ADR 0018)
    release_connections()
    response_status: int | None = None
    excerpt = ""
    try:
        if channel.kind == NotificationChannel.ChannelKind.WEBHOOK:
            response_status, excerpt = _post_webhook(delivery, channel)
        elif channel.kind == NotificationChannel.ChannelKind.EMAIL:
            _send_email(delivery, channel)
        else:
            raise _AttemptFailed(f"unknown channel kind {channel.kind!r}")
    except _AttemptFailed as exc:
        return True, _record_failure(
            delivery, str(exc), exc.response_status, excerpt=exc.excerpt, retry=retry
        )
    except Exception as exc:  # a bug or an unexpected library error: still just a failed attempt
        logger.exception("notification delivery %s: attempt raised", delivery.id)
        return True, _record_failure(delivery, f"{type(exc).__name__}: {exc}", None, retry=retry)
    return True, _record_success(delivery, response_status, excerpt)


def _claim(delivery_id: uuid.UUID, *, due_by: datetime | None = None):
    """Lock the delivery, check it is due (by ``due_by``, default now), count the attempt and
    lease it for the attempt's duration.

    Returns (delivery, channel) to attempt, or the status to report without attempting.
    """
    now = timezone.now()
    due_by = due_by or now
    with transaction.atomic(using=DB):
        delivery = (
            NotificationDelivery.objects.using(DB)
            .select_for_update()
            .filter(id=delivery_id)
            .first()
        )
        if delivery is None:
            logger.warning("notification delivery %s does not exist; skipped", delivery_id)
            return "missing"
        if delivery.status != DeliveryStatus.PENDING:
            return delivery.status
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > due_by:
            return delivery.status

        channel = (
            NotificationChannel.objects.using(DB).filter(id=delivery.channel_id).first()
            if delivery.channel_id
            else None
        )
        problem = None
        if channel is None:
            problem = "the channel was deleted"
        elif not channel.enabled:
            problem = "the channel is disabled"
        elif delivery.attempts >= max_attempts():
            problem = f"gave up after {delivery.attempts} attempts" + (
                f"; last error: {delivery.last_error}" if delivery.last_error else ""
            )
        if problem is not None:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = problem[:ERROR_CHARS]
            delivery.next_attempt_at = None
            delivery.save(
                using=DB, update_fields=["status", "last_error", "next_attempt_at", "updated_at"]
            )
            logger.warning(
                "notification delivery %s to %s failed: %s",
                delivery.id,
                delivery.channel_name,
                problem,
            )
            return delivery.status

        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=timeout_seconds() + LEASE_MARGIN_SECONDS)
        delivery.save(using=DB, update_fields=["attempts", "next_attempt_at", "updated_at"])
    return delivery, channel


def _log_attempt(
    delivery: NotificationDelivery, outcome: str, response_status: int | None, detail: str
) -> None:
    """Append this attempt to the delivery's ``attempt_log`` (the last ones kept)."""
    entry = {
        "number": delivery.attempts,
        "at": timezone.now().isoformat(),
        "outcome": outcome,
        "response_status": response_status,
        "detail": detail[:ERROR_CHARS],
    }
    delivery.attempt_log = [*(delivery.attempt_log or []), entry][-ATTEMPT_LOG_LIMIT:]


def _record_success(
    delivery: NotificationDelivery, response_status: int | None, excerpt: str = ""
) -> str:
    with transaction.atomic(using=DB):
        current = NotificationDelivery.objects.using(DB).select_for_update().get(id=delivery.id)
        if current.status == DeliveryStatus.DELIVERED:
            return current.status
        current.status = DeliveryStatus.DELIVERED
        current.delivered_at = timezone.now()
        current.response_status = response_status
        current.response_excerpt = excerpt
        current.last_error = ""
        current.next_attempt_at = None
        _log_attempt(current, DeliveryStatus.DELIVERED.value, response_status, excerpt)
        current.save(
            using=DB,
            update_fields=[
                "status",
                "delivered_at",
                "response_status",
                "response_excerpt",
                "attempt_log",
                "last_error",
                "next_attempt_at",
                "updated_at",
            ],
        )
    logger.info(
        "notification delivery %s (%s) to %s delivered on attempt %d",
        current.id,
        current.event,
        current.channel_name,
        current.attempts,
    )
    return current.status


def _record_failure(
    delivery: NotificationDelivery,
    error: str,
    response_status: int | None,
    *,
    excerpt: str = "",
    retry: bool = True,
) -> str:
    error = error[:ERROR_CHARS]
    with transaction.atomic(using=DB):
        current = NotificationDelivery.objects.using(DB).select_for_update().get(id=delivery.id)
        if current.status != DeliveryStatus.PENDING:  # delivered meanwhile by another attempt
            return current.status
        current.last_error = error
        current.response_status = response_status
        current.response_excerpt = excerpt
        _log_attempt(current, DeliveryStatus.FAILED.value, response_status, error)
        if not retry:
            current.status = DeliveryStatus.FAILED
            current.next_attempt_at = None
            then = "not retried"
        elif current.attempts < max_attempts():
            wait = backoff_seconds(current.attempts)
            current.next_attempt_at = timezone.now() + timedelta(seconds=wait)
            then = f"retry in {wait:g}s"
        else:
            current.status = DeliveryStatus.FAILED
            current.next_attempt_at = None
            then = "no attempts left"
        current.save(
            using=DB,
            update_fields=[
                "status",
                "last_error",
                "response_status",
                "response_excerpt",
                "attempt_log",
                "next_attempt_at",
                "updated_at",
            ],
        )
    logger.warning(
        "notification delivery %s (%s) to %s failed on attempt %d/%d (%s): %s",
        current.id,
        current.event,
        current.channel_name,
        current.attempts,
        max_attempts(),
        then,
        error,
    )
    return current.status


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# --- webhook ------------------------------------------------------------------------------------


def _channel_secret(channel: NotificationChannel) -> str:
    if not channel.sealed_secret:
        raise _AttemptFailed("the webhook channel has no signing secret")
    try:
        secret = unseal(channel.sealed_secret).get("secret")
    except SealError:
        raise _AttemptFailed(
            "the channel's signing secret cannot be unsealed with the configured keys"
        ) from None
    if not isinstance(secret, str) or not secret:
        raise _AttemptFailed("the webhook channel has no signing secret")
    return secret


def _where(url: str) -> str:
    """host:port of ``url``, for messages (never its path, query or credentials)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"


_OBJECT_PREFIX = re.compile(r"<[^>]*object at 0x[0-9a-f]+>:\s*")


def _network_error(exc: requests.RequestException, timeout: float) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return f"timed out connecting (after {timeout:g}s)"
    if isinstance(exc, requests.Timeout):
        return f"timed out waiting for the response (after {timeout:g}s)"
    if isinstance(exc, requests.exceptions.InvalidSchema | requests.exceptions.MissingSchema):
        return "invalid URL: only http:// and https:// are supported"
    if isinstance(exc, requests.exceptions.InvalidURL):
        return "invalid URL"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: " + _innermost_reason(exc)
    if isinstance(exc, requests.ConnectionError):
        return "connection failed: " + _innermost_reason(exc)
    return f"{type(exc).__name__}: {_innermost_reason(exc)}"


def _innermost_reason(exc: BaseException) -> str:
    """The useful part of a requests/urllib3 error (``[Errno 111] Connection refused``), without
    the URL requests puts in its messages."""
    reason: object = exc
    for _ in range(5):
        inner = getattr(reason, "reason", None)
        if inner is None and isinstance(reason, BaseException) and reason.args:
            first = reason.args[0]
            inner = first if isinstance(first, BaseException) else None
        if inner is None or inner is reason:
            break
        reason = inner
    text = _OBJECT_PREFIX.sub("", str(reason))
    text = text.replace("Failed to establish a new connection: ", "")
    return text or type(reason).__name__


def _post_webhook(delivery: NotificationDelivery, channel: NotificationChannel) -> tuple[int, str]:
    """POST the delivery; returns the 2xx status and the answer's excerpt, or raises
    ``_AttemptFailed``."""
    secret = _channel_secret(channel)
    body = encode_body(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.id),
    }
    timeout = timeout_seconds()
    where = _where(channel.url)
    with requests.Session() as session:
        session.trust_env = False  # no proxies, .netrc or CA bundles from the environment
        try:
            response = session.post(
                channel.url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            raise _AttemptFailed(
                _scrub(f"POST to {where}: {_network_error(exc, timeout)}", secret)
            ) from None
        with response:
            snippet = _scrub(_response_snippet(response), secret)
            if 200 <= response.status_code < 300:
                return response.status_code, snippet
    message = f"POST to {where}: HTTP {response.status_code}"
    if 300 <= response.status_code < 400:
        message += " (redirects are not followed)"
    if snippet:
        message += f": {snippet}"
    raise _AttemptFailed(_scrub(message, secret), response.status_code, snippet)


def _response_snippet(response: requests.Response) -> str:
    try:
        raw = next(response.iter_content(chunk_size=RESPONSE_SNIPPET_CHARS * 4), b"")
    except Exception:  # the body itself failed; the status says enough
        return ""
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    text = " ".join(text.split())
    if len(text) > RESPONSE_SNIPPET_CHARS:
        text = text[:RESPONSE_SNIPPET_CHARS] + "…"
    return text


# --- email --------------------------------------------------------------------------------------


def _one_line(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return " ".join(str(text).split())


def email_subject(delivery: NotificationDelivery) -> str:
    payload = delivery.payload or {}
    name = (
        payload.get("schedule_name")
        or payload.get("job_name")
        or payload.get("channel_name")
        or delivery.subject
    )
    return _one_line(f"[OpsConductor] {delivery.event}: {name}")[:200]


def email_body(delivery: NotificationDelivery) -> str:
    payload = delivery.payload or {}
    lines = [f"OpsConductor alert: {delivery.event}", ""]
    listed = set()
    for key in EMAIL_FIELDS:
        if payload.get(key) not in (None, "", [], {}):
            lines.append(f"{key}: {_one_line(payload[key])}")
            listed.add(key)
    for key in sorted(set(payload) - listed - {"delivery_id", "sent_at"}):
        if payload[key] not in (None, "", [], {}):
            lines.append(f"{key}: {_one_line(payload[key])[:500]}")
    lines += ["", f"delivery: {delivery.id}", f"sent at: {payload.get('sent_at', '')}"]
    return "\n".join(lines) + "\n"


def _send_email(delivery: NotificationDelivery, channel: NotificationChannel) -> None:
    recipients = [r for r in (channel.recipients or []) if isinstance(r, str) and r.strip()]
    if not recipients:
        raise _AttemptFailed("the email channel has no recipients")
    password = getattr(settings, "EMAIL_HOST_PASSWORD", "") or ""
    try:
        connection = get_connection(fail_silently=False)
        if getattr(connection, "timeout", False) is None:  # SMTP without EMAIL_TIMEOUT: bound it
            connection.timeout = timeout_seconds()
        sent = send_mail(
            email_subject(delivery),
            email_body(delivery),
            None,  # DEFAULT_FROM_EMAIL
            recipients,
            fail_silently=False,
            connection=connection,
        )
    except Exception as exc:
        raise _AttemptFailed(
            _scrub(f"sending email failed: {type(exc).__name__}: {exc}", password)
        ) from None
    if not sent:
        raise _AttemptFailed("sending email failed: the mail backend sent nothing")


# --- the sweep -----------------------------------------------------------------------------------


def retry_due(now: datetime | None = None, *, limit: int = 100) -> int:
    """Attempt (in this process) the pending deliveries that are due: their retry time has come,
    or they have none and are older than ``NEVER_QUEUED_AFTER`` (their task was never queued).
    Returns how many attempts were made. For a periodic task."""
    now = now or timezone.now()
    due = list(
        NotificationDelivery.objects.using(DB)
        .filter(status=DeliveryStatus.PENDING)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, created_at__lte=now - NEVER_QUEUED_AFTER)
        )
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    attempted = 0
    for delivery_id in due:
        try:
            made, _status = _deliver(delivery_id, due_by=now)
        except Exception:
            logger.exception("notification delivery %s: unexpected error", delivery_id)
            continue
        attempted += made
    return attempted


# --- test notices -------------------------------------------------------------------------------

TEST_MESSAGE = (
    "This is a test notice sent from the OpsConductor console or API to check this channel. "
    "No run failed."
)


def send_test(channel: NotificationChannel, *, requested_by: str = "") -> NotificationDelivery:
    """Send ``channel`` a test notice now, in this process, through the real delivery path (the
    same body shape, signature and headers as an alert, event ``test``): one attempt, not
    retried. Recorded in the delivery log; returns the delivery as it ended."""
    delivery_id = uuid.uuid4()
    subject = f"channel:{channel.id}"
    payload = {
        "event": AlertEvent.TEST.value,
        "subject": subject,
        "test": True,
        "message": TEST_MESSAGE,
        "channel_id": str(channel.id),
        "channel_name": channel.name,
        "requested_by": requested_by,
        "delivery_id": str(delivery_id),
        "sent_at": timezone.now().isoformat(),
    }
    NotificationDelivery.objects.using(DB).create(
        id=delivery_id,
        channel=channel,
        channel_name=channel.name,
        event=AlertEvent.TEST,
        subject=subject,
        payload=payload,
        status=DeliveryStatus.PENDING,
    )
    try:
        _deliver(delivery_id, retry=False)
    except Exception:
        logger.exception("test notification %s: unexpected error", delivery_id)
    delivery = NotificationDelivery.objects.using(DB).get(id=delivery_id)
    if delivery.status == DeliveryStatus.PENDING:  # the attempt never ended (an unexpected error)
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = delivery.last_error or "the test notice could not be sent"
        delivery.next_attempt_at = None
        delivery.save(using=DB, update_fields=["status", "last_error", "next_attempt_at"])
    return delivery
