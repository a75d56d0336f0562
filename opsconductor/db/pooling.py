"""The connection pools' behaviour while the database is unreachable (ADR 0018).

A pool hands out connections it opens in the background; a thread that finds none free waits
for one up to the pool's timeout (``DATABASE_POOL_TIMEOUT_SECONDS``): right while the pool's
budget is in use, wrong while the database refuses connections (a restart, a failover), when
Django without a pool failed at once: every request would then hang for the whole timeout
before its 503, a writer would take that long to notice the outage.

``connection_class(alias, timeout)`` is the pool's ``connection_class``: it notes each attempt
to connect. After a failed one the threads waiting for the alias's pool are told at once (as
without a pool: the database refuses), and the pool waits ``UNREACHABLE_TIMEOUT_SECONDS`` at
most (long enough for a connection freed or made meanwhile); after a successful one, its
configured timeout again. The pool does not retry in the background (``reconnect_timeout``
0, config/settings.py): a waiting thread asks the pool to grow, so each checkout while the
database is away is one attempt to connect, failed at once, and the first checkout after it is
back connects (no backoff grown to a minute delays the recovery).
(Telling the waiting threads uses psycopg_pool's queue of waiting clients, ``_waiting``, and
``WaitingClient.fail``, which its own ``close()`` uses; without them the threads wait out
their timeout.)
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool.base import AttemptWithBackoff

# how long a thread waits for a connection while the pool's last attempt to connect failed
UNREACHABLE_TIMEOUT_SECONDS = 1.5
# psycopg_pool sleeps this long (doubling) between the dead connections a checkout finds in the
# pool after a restart, one at a time: its default, 1 s, made a checkout right after a restart
# sleep a second per dead connection. A class attribute of psycopg_pool (pinned in
# requirements.txt), for every pool of the process.
AttemptWithBackoff.INITIAL_DELAY = 0.1


class _NotingConnection(psycopg.Connection):
    alias = ""
    timeout = 10.0

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any):
        try:
            connection = super().connect(conninfo, **kwargs)
        except psycopg.OperationalError:
            pool = _pool(cls.alias)
            if pool is not None:
                pool.timeout = UNREACHABLE_TIMEOUT_SECONDS
                _fail_waiting(pool)
            raise
        pool = _pool(cls.alias)
        if pool is not None:
            pool.timeout = cls.timeout
        return connection


def _pool(alias: str):
    from django.db import connections

    return getattr(connections[alias], "pool", None)


def _fail_waiting(pool) -> None:
    from psycopg_pool import PoolTimeout

    for waiting in list(getattr(pool, "_waiting", ())):
        fail = getattr(waiting, "fail", None)
        if fail is not None:
            fail(PoolTimeout(f"the pool {pool.name!r} cannot connect to the database"))


def connection_class(alias: str, timeout: float) -> type[psycopg.Connection]:
    """The class the pool of ``alias`` opens its connections with (``timeout``: the pool's
    configured checkout timeout)."""
    return type(
        f"PooledConnection_{alias}", (_NotingConnection,), {"alias": alias, "timeout": timeout}
    )
