"""`python -m bench [name ...]`: run the benchmarks (all by default).

`python -m bench execution [--targets N] ...`: OpsConductor end to end vs ansible-core, cold
and warm, on N local sshd targets (bench/execution.py).

`python -m bench scheduling [--schedules N] [--minutes M] [--edits-per-second E]`: N schedules
fired by the real scheduler (beat + worker processes) while they are edited: firing lag, edit
and tick costs (bench/scheduling.py).

`python -m bench audit [--rate 5000] [--seconds 60] [--records 1000000]`: audit ingestion end to
end (producer, outbox relay, real worker processes) at a steady rate, then filtered queries of
the API on a million records (bench/audit.py).

`python -m bench legacy_bridge [--requests 2000] [--threads 8] [--mib 200]`: what the legacy
bridge's proxy adds to latency and throughput, direct vs through the bridge in gunicorn
(bench/legacy_bridge.py).

`python -m bench legacy_import [--targets 10000] [--results 100000]`: the legacy importer on a
generated legacy database, rows/s per table (bench/legacy_import.py).

`python -m bench target_list [--targets 5000] [--runs 200] [--profile]`: CPU per request and
latency of the target list, the list with a selector and the selector preview on N targets,
`/me/` as the reference (bench/target_list.py).

`python -m bench streams [--streams 500] [--targets 10] [--web-workers 2] [--web-threads 8]`: S
live streams of one run on the streams process, with web, streams and worker as real processes
in production configuration: API latency idle vs during the streams, database connections per
role, the streams process's threads, memory and CPU, delivery rate and delay, and a cancel
(bench/streams.py).

`python -m bench console [--viewers 200] [--targets 1000] [--lines 100000] [--loads 5]`: the web
console in headless Chromium against web, streams and worker as real processes in production
configuration: first load's JavaScript against its budget, a run of N targets rendered, 100,000
lines of output streamed into the run page (long tasks, scrolling), a line's latency to the
screen, and the API's latency with many viewers open (bench/console.py).

`python -m bench dashboard [--targets 10000] [--schedules 10000] [--audit 1000000]`: the
console's dashboard on a big installation: its summary endpoints, first load's JavaScript and
first paint in headless Chromium against web in production configuration (bench/dashboard.py).

`python -m bench audit_console [--records 1000000] [--pages 20] [--loads 3]`: the console's audit
page in headless Chromium paging through a million records (no filter, filtered, by time, from
the newest page and from deep in the trail), each page from the click to its rows on screen
against 300 ms (bench/audit_console.py).

`python -m bench ansible [--targets N] ...`: ansible-core ad-hoc on N local sshd targets, cold
and warm (bench/ansible_side.py), run by hand; not part of the default set.
"""

from __future__ import annotations

import importlib
import sys

from bench import health, outbox

BENCHMARKS = {"outbox": outbox.main, "health": health.main}
# run only when named, each with its own arguments: name -> module of bench
ON_THEIR_OWN = {
    "execution": "execution",
    "scheduling": "scheduling",
    "audit": "audit",
    "legacy_bridge": "legacy_bridge",
    "legacy_import": "legacy_import",
    "target_list": "target_list",
    "streams": "streams",
    "console": "console",
    "dashboard": "dashboard",
    "audit_console": "audit_console",
    "ansible": "ansible_side",
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BENCHMARKS)
    if names[0] in ON_THEIR_OWN:
        importlib.import_module(f"bench.{ON_THEIR_OWN[names[0]]}").main(names[1:])
        sys.exit(0)
    for name in names:
        BENCHMARKS[name]()
