"""SHOW POOLS through a real PgBouncer admin console (skipped where pgbouncer is absent)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migtui.sampler import Sampler
from tests.sampler.live import live_plan

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pgbouncer_admin() -> Iterator[str]:
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed")
    port = free_port()
    d = Path(tempfile.mkdtemp(prefix="migtui-pgb-"))
    (d / "users.txt").write_text('"postgres" ""\n')
    (d / "pgbouncer.ini").write_text(
        "[databases]\n* = host=127.0.0.1 port=1\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {d / 'users.txt'}\nadmin_users = postgres\n"
        f"logfile = {d / 'pgbouncer.log'}\npidfile = {d / 'pgbouncer.pid'}\n")
    kw: dict[str, object] = {}
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        for p in (d, *d.iterdir()):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        kw = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    proc = subprocess.Popen([PGBOUNCER, str(d / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    url = f"postgresql://postgres@127.0.0.1:{port}/pgbouncer"
    try:
        for _ in range(100):
            try:
                psycopg.connect(url, autocommit=True, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None:
                    pytest.skip("pgbouncer did not start")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def test_pgbouncer_pools_are_read_from_the_admin_console(shop_db, pgbouncer_admin,
                                                         monkeypatch):
    monkeypatch.setenv("MIGTUI_TEST_PGBOUNCER", pgbouncer_admin)
    plan = live_plan(target={"pgbouncer_dsn_env": "MIGTUI_TEST_PGBOUNCER"})
    s = Sampler(plan, shop_db)
    snap = s.sample_once()
    s.stop()
    assert snap.error is None
    assert not any("PgBouncer" in n for n in snap.notes), snap.notes
    admin = [p for p in snap.pgbouncer if p.database == "pgbouncer"]
    assert admin and admin[0].cl_active >= 1  # the sampler's own admin connection
    assert snap.pgbouncer_waiting == 0


def test_pgbouncer_unset_or_unreachable_is_a_note_not_an_error(shop_db, monkeypatch):
    monkeypatch.delenv("MIGTUI_TEST_PGBOUNCER", raising=False)
    plan = live_plan(target={"pgbouncer_dsn_env": "MIGTUI_TEST_PGBOUNCER"})
    s = Sampler(plan, shop_db)
    assert "PgBouncer pools inactive: MIGTUI_TEST_PGBOUNCER is not set" in s.sample_once().notes
    monkeypatch.setenv("MIGTUI_TEST_PGBOUNCER",
                       f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/pgbouncer")
    snap = s.sample_once()
    s.stop()
    assert snap.error is None and snap.pgbouncer == ()
    note = next(n for n in snap.notes if n.startswith("PgBouncer unreachable"))
    assert "s3cret" not in note
