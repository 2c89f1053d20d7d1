"""Shared pieces of the benchmarks: the server, scratch databases, pgbench as the
application, latency statistics, and the RESULTS.md sections.

Not a test module (pytest does not collect this directory).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from migtui.embedded import EmbeddedPostgres

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS = HERE / "RESULTS.md"
APP_NAME = "bench-app"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"


def with_db(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@dataclass
class Server:
    admin: str
    embedded: EmbeddedPostgres | None
    version: str = ""

    @property
    def label(self) -> str:
        return f"PostgreSQL {self.version} ({'embedded' if self.embedded else 'given DSN'})"

    def tool(self, name: str) -> str:
        """A client tool (pgbench, psql): the embedded server's own, else the one on PATH."""
        if self.embedded is not None and (self.embedded.bin / name).exists():
            return str(self.embedded.bin / name)
        found = shutil.which(name)
        if not found:
            sys.exit(f"{name} not found: install the PostgreSQL client tools")
        return found

    def execute(self, *statements: str, db: str | None = None) -> None:
        url = with_db(self.admin, db) if db else self.admin
        with psycopg.connect(url, autocommit=True) as c:
            for s in statements:
                c.execute(s)  # type: ignore[arg-type]

    def drop_db(self, name: str) -> None:
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(  # type: ignore[arg-type]
            sql.Identifier(name)).as_string(None))

    def create_db(self, name: str, template: str | None = None) -> str:
        self.drop_db(name)
        q = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            q = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                 sql.Identifier(template))
        self.execute(q.as_string(None))
        return with_db(self.admin, name)


@contextmanager
def server(dsn: str | None, name: str, max_connections: int = 60) -> Iterator[Server]:
    """The given server, or an embedded one (destroyed afterwards)."""
    embedded = None
    admin = dsn
    try:
        if admin is None:
            embedded = EmbeddedPostgres(name=name, settings={
                "shared_preload_libraries": "pg_stat_statements",
                "max_connections": str(max_connections)})
            admin = embedded.start()
        with psycopg.connect(admin, autocommit=True) as c:
            version = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        yield Server(admin, embedded, version.split()[0])
    finally:
        if embedded is not None:
            embedded.destroy()


def pgbench_init(srv: Server, url: str, scale: int) -> None:
    out = subprocess.run([srv.tool("pgbench"), "-i", "-q", "-s", str(scale), url],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"pgbench -i failed:\n{out.stderr[-2000:]}")
    srv.execute("VACUUM ANALYZE", db=make_url(url).database)


# ---------------------------------------------------------------- pgbench as the application


@dataclass
class Txn:
    end: float  # epoch seconds when it finished
    latency: float  # seconds; nan when failed
    failed: bool = False


@dataclass
class AppRun:
    txns: list[Txn] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)  # pgbench 'client N aborted' lines
    progress: list[str] = field(default_factory=list)  # the -P 1 lines
    started: float = 0.0
    stopped: float = 0.0
    clients: int = 0
    live_at_stop: int = 0  # sessions still connected when stop() came: the rest aborted

    @property
    def aborted_clients(self) -> int:
        """Clients that died of an error before the benchmark stopped the application."""
        return self.clients - self.live_at_stop


class App:
    """pgbench ``-c clients -P 1`` with a per-transaction log, until ``stop()``.

    pgbench cannot be stopped cleanly by a signal (its logs would be cut), so ``stop()``
    terminates its sessions (``application_name = bench-app``): every client then ends, and
    pgbench exits normally with its logs flushed. Clients gone before ``stop()`` aborted on
    a real error: pgbench ends a client at its first error."""

    def __init__(self, srv: Server, url: str, clients: int = 8, extra: list[str] | None = None,
                 rate: float | None = None) -> None:
        self.srv = srv
        self.url = url
        self.dir = Path(tempfile.mkdtemp(prefix="migtui-bench-"))
        args = [srv.tool("pgbench"), "-n", "-c", str(clients), "-j", "2", "-P", "1",
                "-T", "3600", "-l", "--log-prefix", str(self.dir / "app"), *(extra or [])]
        if rate:
            args += ["-R", str(rate)]
        self.args = [*args, url]
        self.proc: subprocess.Popen[str] | None = None
        self.run = AppRun(clients=clients)

    def start(self) -> App:
        env = {**os.environ, "PGAPPNAME": APP_NAME}
        self.run.started = time.time()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=self.dir)
        return self

    def stop(self) -> AppRun:
        assert self.proc is not None
        self.run.stopped = time.time()
        db = make_url(self.url).database
        with psycopg.connect(self.srv.admin, autocommit=True) as c:
            row = c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                            "AND datname = %s", (APP_NAME, db)).fetchone()
            self.run.live_at_stop = int(row[0]) if row else 0
        for _ in range(50):
            with psycopg.connect(self.srv.admin, autocommit=True) as c:
                c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "application_name = %s AND datname = %s", (APP_NAME, db))
            try:
                self.proc.wait(0.2)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            self.proc.send_signal(signal.SIGKILL)
        out, err = self.proc.communicate()
        lines = (out + err).splitlines()
        self.run.progress = [ln for ln in lines if ln.startswith("progress:")]
        self.run.aborted = [ln for ln in lines if "aborted" in ln and "client" in ln]
        for f in sorted(self.dir.glob("app*")):
            for ln in f.read_text(errors="replace").splitlines():
                p = ln.split()
                if len(p) < 6:
                    continue
                end = int(p[4]) + int(p[5]) / 1e6
                if p[2].isdigit():
                    self.run.txns.append(Txn(end, int(p[2]) / 1e6))
                elif p[2] != "skipped":
                    self.run.txns.append(Txn(end, float("nan"), failed=True))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.run.txns.sort(key=lambda t: t.end)
        return self.run


# ---------------------------------------------------------------- statistics


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * (len(v) - 1)))))
    return v[k]


def window_stats(run: AppRun, start: float, end: float) -> dict[str, Any]:
    """Latency and throughput of the transactions that finished in [start, end)."""
    txns = [t for t in run.txns if start <= t.end < end]
    ok = [t.latency for t in txns if not t.failed]
    seconds = max(end - start, 1e-9)
    per_sec: list[tuple[int, list[float]]] = []
    for i in range(int(seconds) + (0 if seconds == int(seconds) else 1)):
        lo = start + i
        per_sec.append((i, [t.latency for t in txns if lo <= t.end < lo + 1 and not t.failed]))
    full = [lat for i, lat in per_sec if start + i + 1 <= end]  # whole seconds only
    if not full:  # a window shorter than a second: the second that starts with it
        full = [[t.latency for t in run.txns if start <= t.end < start + 1 and not t.failed]]
    tps = [len(lat) for lat in full]
    p99s = [pct(lat, 99) for lat in full if lat]
    ends = [start] + [t.end for t in txns] + [end]
    return {
        "seconds": round(seconds, 2),
        "transactions": len(ok),
        "failed": sum(1 for t in txns if t.failed),
        "tps_mean": round(len(ok) / seconds, 1),
        "tps_min_1s": min(tps) if tps else None,
        "p50_ms": ms(pct(ok, 50)),
        "p99_ms": ms(pct(ok, 99)),
        "peak_p99_1s_ms": ms(max(p99s)) if p99s else None,  # type: ignore[type-var]
        "max_ms": ms(max(ok)) if ok else None,
        "longest_gap_ms": ms(max(b - a for a, b in zip(ends, ends[1:], strict=False))),
        "tps_series": tps,
        "p99_series_ms": [ms(pct(lat, 99)) if lat else None for _i, lat in per_sec],
    }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], top: float | None = None) -> str:
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    hi = top or max(nums) or 1.0
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            out.append(SPARK[min(len(SPARK) - 1, int(v / hi * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


# ---------------------------------------------------------------- plots beside RESULTS.md


def plot_series(name: str, title: str, panels: list[tuple[str, dict[str, list[float | None]]]],
                *, step: float = 1.0, xlabel: str = "seconds") -> Path:
    """A benchmark's series as ``<name>.png`` beside RESULTS.md: one panel per
    ``(y label, {line label: values every `step` seconds})``; None is a gap. Uses
    matplotlib's Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                             figsize=(9, 1.2 + 2.4 * len(panels)))
    try:
        for (ylabel, lines), (ax,) in zip(panels, axes, strict=True):
            for label, values in lines.items():
                ys = [float("nan") if v is None else v for v in values]
                ax.plot([i * step for i in range(len(ys))], ys, lw=1.2, label=label)
            ax.set_ylabel(ylabel)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.legend(loc="upper left", fontsize=7)
        axes[-1][0].set_xlabel(xlabel)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        out = RESULTS.with_name(f"{name}.png")
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)
    return out


# ---------------------------------------------------------------- RESULTS.md


def write_section(section: str, title: str, table: str, result: dict[str, Any]) -> None:
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    body = (f"{start}\n## {title}\n\n{table}\n\n"
            f"```json\n{json.dumps(result, indent=2)}\n```\n{end}")
    text = RESULTS.read_text() if RESULTS.exists() else (
        "# Benchmark results\n\nWritten by the scripts in this directory; each owns a "
        "section between its markers.\n")
    if start in text and end in text:
        text = text[:text.index(start)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(text)
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
