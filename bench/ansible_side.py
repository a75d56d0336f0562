"""The ansible side of the benchmark: ``ansible all -m raw`` against the bench targets.

ansible-core is pinned in bench/requirements-ansible.txt and installed into a virtualenv of its
own (var/bench/ansible-venv, created on first use, reused after), never into the product's.

``run_ansible`` writes, in a directory of its own: an inventory (host, port, user, private key
file of each target), a known_hosts file with the targets' host keys (verified strictly, as the
product does), an ansible.cfg (forks = number of targets, pipelining, ControlMaster=auto +
ControlPersist, host key checking, no fact gathering, no retry files) and points ansible at the
benchmark's stdout callback (bench/ansible_plugins/bench_timing.py), which records when each
host's result arrives. Then it runs the ad-hoc command cold (no ssh control masters) and warm
(the masters of the cold run still connected), measuring each run:

- wall time, from starting ``ansible`` to its exit;
- client CPU seconds: user+sys of ansible and everything below it that was waited for
  (RUSAGE_CHILDREN delta around the run), plus what the ssh control masters spent meanwhile
  (they detach from ansible's process tree, so they are read from /proc);
- peak memory: the largest sum of RSS over the process tree (ansible, its forks, the ssh
  clients, the control masters), sampled every 50 ms; the sum of RSS counts pages that forked
  workers share once per process, so the peak PSS (shared pages divided among the processes
  sharing them) is sampled too, less often (it is costlier to read);
- per-target latency: from the start to that host's result, p50 and p99.

``format_table`` prints these rows, and the OpsConductor side's (any ``BenchRow``), side by side
with ratios. ``ProcessTreeSampler`` is the memory sampler, usable for the other side too.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.targets import BenchTarget, proc_pids, proc_stat, raise_fd_limit, read_proc

REPO = Path(__file__).resolve().parent.parent
BENCH_VAR = REPO / "var" / "bench"
ANSIBLE_VENV = BENCH_VAR / "ansible-venv"
REQUIREMENTS = Path(__file__).with_name("requirements-ansible.txt")
PLUGINS = Path(__file__).with_name("ansible_plugins")
CALLBACK = "bench_timing"

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


# --- rows and the table ---------------------------------------------------------------------


@dataclass(kw_only=True)
class BenchRow:
    """One measured run of one side; what ``format_table`` prints."""

    side: str  # "ansible", "opsconductor"
    mode: str  # "cold", "warm", ...
    targets: int
    ok: int
    wall_s: float
    cpu_s: float  # client CPU seconds, user + sys
    peak_rss_bytes: int  # peak of the summed RSS of the side's processes
    p50_s: float | None  # per-target latency: from the start to that target's result
    p99_s: float | None
    peak_pss_bytes: int | None = None

    @property
    def peak_mib(self) -> float:
        return self.peak_rss_bytes / MIB


@dataclass(kw_only=True)
class AnsibleResult(BenchRow):
    side: str = "ansible"
    failed: int = 0
    unreachable: int = 0
    forks: int = 0
    latencies: dict[str, float] = field(default_factory=dict, repr=False)  # host -> seconds
    startup_s: float | None = None  # until ansible's callback saw the (ad-hoc) play start
    cpu_masters_s: float = 0.0  # part of cpu_s spent by the ssh control masters
    control_sockets_before: int = 0  # ssh control sockets alive when the run started
    control_masters_after: int = 0  # control master processes alive when it ended
    returncode: int | None = None
    errors: list[tuple[str, int]] = field(default_factory=list)  # most common messages
    sampler_cpu_s: float = 0.0  # what the memory sampler itself cost (in the bench process)
    samples: int = 0
    pss_samples: int = 0
    peak_processes: int = 0  # processes in the sum at the RSS peak
    peak_breakdown: dict[str, int] = field(default_factory=dict)  # there: command -> RSS


def percentile(values: Iterable[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0..100) of ``values``; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


_COLUMNS = (
    # header, width, value of a row
    ("side", 13, lambda r: r.side),
    ("mode", 6, lambda r: r.mode),
    ("targets", 7, lambda r: r.targets),
    ("ok", 6, lambda r: r.ok),
    ("wall s", 8, lambda r: r.wall_s),
    ("CPU s", 8, lambda r: r.cpu_s),
    ("peak MiB", 9, lambda r: r.peak_mib),
    ("p50 s", 7, lambda r: r.p50_s),
    ("p99 s", 7, lambda r: r.p99_s),
    ("PSS MiB", 8, lambda r: None if r.peak_pss_bytes is None else r.peak_pss_bytes / MIB),
)
_RATIO_FROM = 4  # the columns from "wall s" on get ratios


def _cell(value: object, width: int) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return (f"{value:.3f}" if value < 10 else f"{value:.1f}").rjust(width)
    if isinstance(value, int):
        return str(value).rjust(width)
    return str(value).ljust(width)


def format_table(rows: Sequence[BenchRow], *, baseline: str | None = None) -> str:
    """The rows as a text table; then, when there is more than one side, each other side's
    rows divided by the ``baseline`` side's (default: the first row's side) of the same mode
    (or its first row when it has no such mode): "3.10x" = 3.1 times the baseline's figure."""
    header = [h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w, _) in enumerate(_COLUMNS)]
    lines = [" ".join(header)]
    lines += [" ".join(_cell(get(r), w) for _, w, get in _COLUMNS).rstrip() for r in rows]
    if not rows:
        return "\n".join(lines)
    baseline = baseline or rows[0].side
    base_rows = [r for r in rows if r.side == baseline]
    others = [r for r in rows if r.side != baseline]
    if base_rows and others:
        lines.append(f"ratios (side / {baseline}):")
        for row in others:
            base = next((b for b in base_rows if b.mode == row.mode), base_rows[0])
            label = f"{row.side} {row.mode} / {base.side} {base.mode}"
            cells = []
            for _, width, get in _COLUMNS[_RATIO_FROM:]:
                mine, theirs = get(row), get(base)
                ratio = f"{mine / theirs:.2f}x" if mine is not None and theirs else "-"
                cells.append(ratio.rjust(width))
            first_width = sum(w + 1 for _, w, _ in _COLUMNS[:_RATIO_FROM]) - 1
            lines.append(f"  {label}".ljust(first_width) + " " + " ".join(cells).rstrip())
    return "\n".join(lines)


# --- processes: memory sampling, CPU of the control masters ---------------------------------


class ProcessTreeSampler:
    """Samples the memory of a process tree in a thread: ``root_pid`` and every process below
    it, plus (``marker``) processes whose command line contains those bytes, wherever they are
    (ssh control masters detach from the tree), minus the ``exclude`` pids and what is below
    them (e.g. the sshd targets, when the root is the bench process itself).

    Every ``interval`` seconds: the sum of RSS (cheap); every ``pss_interval``, or less often
    when it is costly (reading smaps_rollup takes ~0.5 ms of CPU per process), the sum of PSS:
    so the PSS peak is an estimate (the lower bound of what was seen). ``peak_rss_bytes`` /
    ``peak_pss_bytes`` keep the largest sums.
    """

    def __init__(
        self,
        root_pid: int,
        *,
        marker: bytes | None = None,
        exclude: Iterable[int] = (),
        interval: float = 0.05,
        pss_interval: float | None = 0.25,
    ):
        self.root_pid = root_pid
        self.marker = marker
        self.exclude = set(exclude)
        self.interval = interval
        self.pss_interval = pss_interval
        self.peak_rss_bytes = 0
        self.peak_pss_bytes = 0
        self.peak_processes = 0
        self.peak_breakdown: dict[str, int] = {}  # at the RSS peak: command name -> RSS
        self.samples = 0
        self.pss_samples = 0
        self.own_cpu_s = 0.0
        self._ours: set[int] = set()
        self._foreign: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def __enter__(self) -> ProcessTreeSampler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()

    def _classify(self) -> list[int]:
        """The pids of the tree now (new processes are classified once, by their parent)."""
        pids = proc_pids()
        present = set(pids)
        self._ours &= present
        self._foreign &= present
        parents: dict[int, int] = {}
        for pid in pids:
            if pid in self._ours or pid in self._foreign:
                continue
            if pid in self.exclude:
                self._foreign.add(pid)
                continue
            fields = proc_stat(pid)
            if fields is None:
                continue
            parents[pid] = int(fields[1])
        if self.root_pid in parents:
            self._ours.add(self.root_pid)
            del parents[self.root_pid]
        changed = True
        while changed and parents:  # a child may be listed before its parent (pid wrap)
            changed = False
            for pid, ppid in list(parents.items()):
                if ppid in self._ours:
                    self._ours.add(pid)
                    del parents[pid]
                    changed = True
        # The rest: below a foreign process, or their parent is gone (a control master whose
        # ssh client exited before the first look): the marker decides.
        for pid in parents:
            cmdline = read_proc(f"/proc/{pid}/cmdline") if self.marker else None
            if self.marker and cmdline and self.marker in cmdline:
                self._ours.add(pid)
            else:
                self._foreign.add(pid)
        return list(self._ours)

    def sample(self, *, pss: bool) -> None:
        pids = self._classify()
        sizes = {}
        for pid in pids:
            statm = read_proc(f"/proc/{pid}/statm")
            if statm:
                resident = int(statm.split()[1])
                if resident:
                    sizes[pid] = resident * PAGE_SIZE
        rss = sum(sizes.values())
        self.samples += 1
        if rss > self.peak_rss_bytes:
            self.peak_rss_bytes = rss
            self.peak_processes = len(sizes)
            breakdown: Counter[str] = Counter()
            for pid, size in sizes.items():
                name = (read_proc(f"/proc/{pid}/comm") or b"?").decode(errors="replace").strip()
                breakdown[name] += size
            self.peak_breakdown = dict(breakdown.most_common())
        if pss:
            total = 0
            for pid in pids:
                rollup = read_proc(f"/proc/{pid}/smaps_rollup")
                if rollup:
                    start = rollup.find(b"\nPss:")
                    if start >= 0:
                        total += int(rollup[start + 5 :].split(None, 1)[0]) * 1024
            self.peak_pss_bytes = max(self.peak_pss_bytes, total)

    def _run(self) -> None:
        cpu_start = time.thread_time()
        next_pss = 0.0
        while True:
            now = time.monotonic()
            pss = self.pss_interval is not None and now >= next_pss
            spent = time.thread_time()
            self.sample(pss=pss)
            if pss and self.pss_interval is not None:
                # smaps_rollup costs ~0.5 ms of CPU per process: keep PSS to ~10% of a core.
                next_pss = now + max(self.pss_interval, 10 * (time.thread_time() - spent))
                self.pss_samples += 1
            if self._stop.wait(self.interval):
                break
        self.own_cpu_s = time.thread_time() - cpu_start


def control_masters(control_dir: Path) -> dict[int, float]:
    """The ssh control master processes serving sockets in ``control_dir`` (their title is
    "ssh: <control path> [mux]"): pid -> CPU seconds (user + sys) so far."""
    prefix = f"ssh: {control_dir}/".encode()
    found = {}
    for pid in proc_pids():
        cmdline = read_proc(f"/proc/{pid}/cmdline")
        if not cmdline or not cmdline.startswith(prefix) or b"[mux]" not in cmdline:
            continue
        fields = proc_stat(pid)
        if fields is not None and fields[0] != b"Z":
            found[pid] = _cpu_seconds(pid, fields)
    return found


def _cpu_seconds(pid: int, stat_fields: list[bytes]) -> float:
    """CPU time of a (single-threaded) process: the scheduler's exact figure when the kernel
    shows it, else utime + stime in clock ticks (10 ms steps: a control master running a few
    short commands may not have used a whole tick)."""
    sched = read_proc(f"/proc/{pid}/sched")
    if sched:
        start = sched.find(b"se.sum_exec_runtime")
        if start >= 0:
            line = sched[start : sched.find(b"\n", start)]
            return float(line.rsplit(b":", 1)[1]) / 1000  # milliseconds
    return (int(stat_fields[11]) + int(stat_fields[12])) / CLOCK_TICKS  # utime, stime


def stop_control_masters(control_dir: Path, *, timeout: float = 5.0) -> int:
    """SIGTERM the control masters of ``control_dir`` (SIGKILL what is left after ``timeout``);
    how many there were."""
    masters = control_masters(control_dir)
    for pid in masters:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    left = set(masters)
    while left and time.monotonic() < deadline:
        left &= set(control_masters(control_dir))
        if left:
            time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(masters)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- ansible ----------------------------------------------------------------------------------


def ensure_ansible(venv: Path = ANSIBLE_VENV) -> Path:
    """The bin directory of the benchmark's ansible virtualenv: created with this interpreter's
    ``-m venv`` and filled from requirements-ansible.txt on first use (or when that file
    changed), reused after."""
    stamp = venv / ".bench-requirements"
    wanted = REQUIREMENTS.read_text()
    bin_dir = venv / "bin"
    if (bin_dir / "ansible").exists() and stamp.exists() and stamp.read_text() == wanted:
        return bin_dir
    if not (bin_dir / "python").exists():
        print(f"creating the ansible virtualenv ({venv.relative_to(REPO)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print("installing ansible-core into it (bench/requirements-ansible.txt)", flush=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return bin_dir


def write_ansible_files(
    targets: Sequence[BenchTarget],
    rundir: Path,
    control_dir: Path,
    *,
    forks: int,
    control_persist: str = "60s",
) -> Path:
    """Inventory, known_hosts and ansible.cfg for ``targets`` in ``rundir``; the cfg's path."""
    inventory = rundir / "inventory.ini"
    lines = ["[targets]"]
    for t in targets:
        values = {
            "ansible_host": t.host,
            "ansible_port": t.port,
            "ansible_user": t.username,
            "ansible_ssh_private_key_file": t.private_key_path,
        }
        lines.append(" ".join([t.name, *(f"{k}={v}" for k, v in values.items())]))
    inventory.write_text("\n".join(lines) + "\n")
    known_hosts = rundir / "known_hosts"
    known_hosts.write_text("".join(f"{t.known_hosts_line}\n" for t in targets))
    ssh_args = [
        "-o ControlMaster=auto",
        f"-o ControlPersist={control_persist}",
        f"-o UserKnownHostsFile={known_hosts}",
        "-o GlobalKnownHostsFile=/dev/null",
        "-o StrictHostKeyChecking=yes",
        "-o IdentitiesOnly=yes",  # only the inventory's key, nothing from ~/.ssh or an agent
        "-o BatchMode=yes",
    ]
    config = rundir / "ansible.cfg"
    config.write_text(
        f"""\
[defaults]
inventory = {inventory}
forks = {forks}
host_key_checking = True
gathering = explicit
retry_files_enabled = False
stdout_callback = {CALLBACK}
bin_ansible_callbacks = True
callback_plugins = {PLUGINS}
timeout = 30
deprecation_warnings = False
nocolor = True

[ssh_connection]
pipelining = True
ssh_args = {" ".join(ssh_args)}
control_path_dir = {control_dir}
"""
    )
    return config


def _ansible_env(config: Path, rundir: Path, timing: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANSIBLE_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_HOME=str(rundir / "ansible-home"),  # its temp files, not ~/.ansible
        BENCH_TIMING_FILE=str(timing),
    )
    return env


def _read_timing(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    return records


def _one_run(
    bin_dir: Path,
    *,
    mode: str,
    targets: Sequence[BenchTarget],
    command: str,
    forks: int,
    rundir: Path,
    config: Path,
    control_dir: Path,
    timeout: float,
    sample_interval: float,
) -> AnsibleResult:
    timing = rundir / f"timing-{mode}.jsonl"
    stderr_path = rundir / f"ansible-{mode}.stderr"
    sockets_before = sum(1 for p in control_dir.iterdir() if p.is_socket())
    masters_before = control_masters(control_dir)
    marker = f"{control_dir}/".encode()
    cpu_before = _children_cpu_s()
    with stderr_path.open("wb") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(
            [str(bin_dir / "ansible"), "all", "-m", "raw", "-a", command],
            cwd=rundir,
            env=_ansible_env(config, rundir, timing),
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,  # its own process group: stopped as one if it must be
        )
        sampler = ProcessTreeSampler(process.pid, marker=marker, interval=sample_interval)
        with sampler:
            try:
                returncode = process.wait(timeout=timeout)
            except BaseException as exc:  # timed out, or the benchmark is being stopped
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                returncode = process.wait()
                if not isinstance(exc, subprocess.TimeoutExpired):
                    raise
            wall = time.monotonic() - started
    cpu = _children_cpu_s() - cpu_before
    masters_after = control_masters(control_dir)
    cpu_masters = sum(
        seconds - masters_before.get(pid, 0.0) for pid, seconds in masters_after.items()
    )

    records = _read_timing(timing)
    results = {r["host"]: r for r in records if r.get("event") == "result"}
    start_event = next((r for r in records if r.get("event") == "start"), None)
    statuses = Counter(r["status"] for r in results.values())
    latencies = {host: r["mono"] - started for host, r in results.items()}
    errors = Counter(r.get("msg", "")[:200] for r in results.values() if r["status"] != "ok")
    if mode != "cold" and sockets_before < len(targets):
        errors[
            f"no ssh control socket at the start (of {len(targets)}: {sockets_before}): "
            f"connected anew (its cold run failed, or its master was idle > ControlPersist)"
        ] = len(targets) - sockets_before
    missing = len(targets) - len(results)
    if missing:
        tail = stderr_path.read_text(errors="replace")[-500:].strip()
        errors[f"no result (ansible exit {returncode}): {tail}"] = missing
    values = list(latencies.values())
    return AnsibleResult(
        mode=mode,
        targets=len(targets),
        ok=statuses["ok"],
        failed=statuses["failed"],
        unreachable=statuses["unreachable"],
        forks=forks,
        wall_s=wall,
        cpu_s=cpu + cpu_masters,
        cpu_masters_s=cpu_masters,
        peak_rss_bytes=sampler.peak_rss_bytes,
        peak_pss_bytes=sampler.peak_pss_bytes,
        p50_s=percentile(values, 50),
        p99_s=percentile(values, 99),
        latencies=latencies,
        startup_s=start_event["mono"] - started if start_event else None,
        control_sockets_before=sockets_before,
        control_masters_after=len(masters_after),
        returncode=returncode,
        errors=errors.most_common(3),
        sampler_cpu_s=sampler.own_cpu_s,
        samples=sampler.samples,
        pss_samples=sampler.pss_samples,
        peak_processes=sampler.peak_processes,
        peak_breakdown=sampler.peak_breakdown,
    )


def run_ansible(
    targets: Sequence[BenchTarget],
    *,
    command: str = "echo hello",
    forks: int | None = None,
    warm_runs: int = 1,
    control_persist: str = "60s",
    workdir: Path = BENCH_VAR,
    keep_files: bool = False,
    timeout: float = 900.0,
    sample_interval: float = 0.05,
) -> list[AnsibleResult]:
    """``ansible all -m raw -a <command>`` on ``targets``: one cold run (no ssh control
    masters), then ``warm_runs`` warm ones (the cold run's masters still connected). Results in
    that order, modes "cold", "warm" (then "warm-2", ...). The control masters are stopped and
    the run's files (in a new directory below ``workdir``) removed at the end, unless
    ``keep_files``."""
    if not targets:
        raise ValueError("no targets")
    forks = forks or len(targets)
    raise_fd_limit(len(targets) * 4 + 256)
    bin_dir = ensure_ansible()
    workdir.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="ansible-run-", dir=workdir)).absolute()
    # Unix socket paths are limited to 107 bytes: ssh's control sockets go to a short directory.
    control_dir = Path(tempfile.mkdtemp(prefix="oc-cp-"))
    try:
        config = write_ansible_files(
            targets, rundir, control_dir, forks=forks, control_persist=control_persist
        )
        results = []
        for i in range(1 + warm_runs):
            mode = "cold" if i == 0 else ("warm" if i == 1 else f"warm-{i}")
            results.append(
                _one_run(
                    bin_dir,
                    mode=mode,
                    targets=targets,
                    command=command,
                    forks=forks,
                    rundir=rundir,
                    config=config,
                    control_dir=control_dir,
                    timeout=timeout,
                    sample_interval=sample_interval,
                )
            )
        return results
    finally:
        stop_control_masters(control_dir)
        shutil.rmtree(control_dir, ignore_errors=True)
        if not keep_files:
            shutil.rmtree(rundir, ignore_errors=True)


def describe(result: AnsibleResult) -> str:
    """One line of details a table row leaves out."""
    parts = [
        f"{result.mode}: forks {result.forks}",
        f"failed {result.failed}, unreachable {result.unreachable}",
        f"exit {result.returncode}",
        f"ansible start-up {result.startup_s:.2f}s" if result.startup_s is not None else "",
        f"control sockets before {result.control_sockets_before}",
        f"masters after {result.control_masters_after} (CPU {result.cpu_masters_s:.2f}s)",
        f"RSS peak: {result.peak_processes} processes ("
        + ", ".join(f"{k} {v / MIB:.0f}" for k, v in list(result.peak_breakdown.items())[:4])
        + " MiB)",
        f"sampler {result.samples} samples ({result.pss_samples} with PSS), "
        f"{result.sampler_cpu_s:.2f}s CPU",
    ]
    line = "; ".join(p for p in parts if p)
    for message, count in result.errors:
        line += f"\n    {count} x {message}"
    return line


def main(argv: Sequence[str] = ()) -> None:
    """``python -m bench ansible [--targets N] [--command CMD] [--warm-runs N] [--forks N]``:
    start N sshd targets, run ansible cold and warm on them, print the rows."""
    import argparse

    from bench.targets import start_targets

    parser = argparse.ArgumentParser(prog="python -m bench ansible")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--command", default="echo hello")
    parser.add_argument("--warm-runs", type=int, default=1)
    parser.add_argument("--forks", type=int, default=None, help="default: one per target")
    parser.add_argument("--login", choices=("test-user", "current"), default="test-user")
    parser.add_argument("--keep-files", action="store_true", help="keep inventory, cfg, logs")
    args = parser.parse_args(list(argv))
    # A plain `kill` ends the run through the `with` blocks: no sshd or ssh master left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    ensure_ansible()
    with start_targets(
        args.targets, workdir=BENCH_VAR, login=args.login, keep_files=args.keep_files
    ) as targets:
        print(
            f"{len(targets)} sshd targets on 127.0.0.1 started in {targets.start_seconds:.1f}s "
            f"(login {targets[0].username}); ansible-core ad-hoc -m raw -a "
            f"{shlex.quote(args.command)}",
            flush=True,
        )
        results = run_ansible(
            targets,
            command=args.command,
            forks=args.forks,
            warm_runs=args.warm_runs,
            keep_files=args.keep_files,
        )
    print(format_table(results))
    for result in results:
        print("  " + describe(result))
