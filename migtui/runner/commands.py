"""Command steps and checklist commands: a shell command, output captured, exit code checked.

The command gets ``DATABASE_URL`` (and the plan target's ``dsn_env``) set to the resolved
database URL *without its password*, so ``pg_dump "$DATABASE_URL"`` works and puts no
password in any process's argv (which every local user can read through ``ps``). The
password goes in a temporary password file (mode 0600, ``PGPASSFILE``) that libpq reads,
removed when the command ends; a stale ``PGPASSWORD`` is taken out of the environment so it
cannot override it. Output is scrubbed of secrets before anything shows or records it.
A timeout or a cancel kills the process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from migtui.control import Cancelled
from migtui.dsn import Dsn, DsnError, parse_dsn
from migtui.runner.context import Ctx
from migtui.runner.errors import StepError
from migtui.secrets import scrub

OUTPUT_LIMIT = 4000  # characters of output kept (the tail)


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str  # scrubbed, the last OUTPUT_LIMIT characters
    elapsed: float


def pgpass_lines(dsn: Dsn) -> str:
    """A libpq password file granting ``dsn``'s password for its hosts, ports and user."""
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace(":", "\\:")

    password = dsn.password or ""
    hosts = (dsn.params.get("host") or "*").split(",")
    ports = (dsn.params.get("port") or "").split(",")
    if len(ports) != len(hosts):
        ports = [ports[0] if len(ports) == 1 else ""] * len(hosts)
    user = esc(dsn.params.get("user") or "*")
    lines = []
    for h, p in zip(hosts, ports, strict=True):
        # libpq matches a Unix-socket connection (no host, or a directory) as "localhost"
        host = "localhost" if h.startswith(("/", "@")) else (esc(h) if h else "*")
        lines.append(f"{host}:{esc(p) if p else '*'}:*:{user}:{esc(password)}\n")
    return "".join(lines)


@contextlib.contextmanager
def command_env(ctx: Ctx) -> Iterator[dict[str, str]]:
    """The command's environment; the password file it names lives until the block ends."""
    env = dict(os.environ)
    passfile: str | None = None
    try:
        dsn = parse_dsn(ctx.dsn)
    except DsnError as e:
        raise StepError(str(e)) from None
    url = dsn.url()
    env["DATABASE_URL"] = url
    tgt = ctx.plan.targets.get(ctx.plan.target_name)
    if tgt is not None:
        env[tgt.dsn_env] = url
    try:
        if dsn.password:
            fd, passfile = tempfile.mkstemp(prefix="migtui-", suffix=".pgpass")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: mode 0600
                fh.write(pgpass_lines(dsn))
            env["PGPASSFILE"] = passfile
            env.pop("PGPASSWORD", None)
        yield env
    finally:
        if passfile:
            with contextlib.suppress(OSError):
                os.unlink(passfile)


def run_command(ctx: Ctx, command: str, *, timeout: float | None = None,
                cwd: str | None = None) -> CommandResult:
    workdir = Path(ctx.workdir)
    if cwd:
        workdir = (workdir / cwd).resolve()
    if not workdir.is_dir():
        raise StepError(f"command directory {workdir} does not exist")
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, command_env(ctx) as env:
        try:
            proc = subprocess.Popen(command, shell=True, cwd=workdir, env=env,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise StepError(f"cannot start the command: {e}") from None
        reason = ""
        while proc.poll() is None:
            if ctx.control.cancelled:
                reason = "cancelled"
            elif timeout and time.monotonic() - start > timeout:
                reason = "timeout"
            if reason:
                _kill(proc)
                break
            time.sleep(0.05)
        proc.wait()
        out.seek(0)
        raw = out.read().decode("utf-8", errors="replace")
    text = scrub(raw)[-OUTPUT_LIMIT:]
    elapsed = time.monotonic() - start
    if reason == "cancelled":
        raise Cancelled(ctx.control.cancel_reason or "cancelled")
    if reason == "timeout":
        raise StepError(f"command timed out after {timeout:g}s: {_tail(text)}")
    return CommandResult(proc.returncode, text, elapsed)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _tail(text: str, lines: int = 3) -> str:
    tail = [ln for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " | ".join(tail) if tail else "(no output)"


def check_exit(result: CommandResult, command: str) -> str:
    if result.exit_code != 0:
        raise StepError(f"command exited with code {result.exit_code}: {_tail(result.output)}",
                        statement=command)
    return f"exit 0 in {result.elapsed:.1f}s"
