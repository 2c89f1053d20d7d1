"""A DSN password never shows: not on screens, in the journal, logs, exports, screenshots.

The test servers trust local connections, so a URL carrying a password still connects:
the password travels everywhere a real one would (the runner's connections, the sampler,
the password file that command steps get), and must come out masked everywhere, in every
encoding (raw, URL-encoded, JSON-escaped). The password holds ``@ : / % " \\`` and
non-ASCII characters. Each test also checks that the masked form did show up where the URL
is displayed, so a test cannot pass just because nothing was shown.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from migtui.dsn import Dsn, parse_dsn
from migtui.journal import Journal, journal_path
from tests.runner_helpers import column_exists, plan_text

# every character that needs escaping somewhere: in a URL, in JSON, in a .pgpass line
PASSWORD = 'Sup3r@S3c:r/t%"q\\xé€-pw'
LEAK = "Sup3r"  # any remnant of the password, in any encoding, starts with this

STEPS = """
- id: add_col
  sql: ALTER TABLE orders ADD COLUMN note text;
  rollback: ALTER TABLE orders DROP COLUMN note;
- id: show_url
  command: {run: 'echo "url=$DATABASE_URL"'}
- id: count
  check: {sql: "SELECT count(*) FROM orders", expect: "> 0"}
"""


def with_password(url: str, **params: str) -> str:
    d = parse_dsn(url)
    return Dsn({**d.params, **params}).url(password=quote(PASSWORD, safe=""))


def write_plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(STEPS, plan_id="secret-plan"))
    return p


def migtui(*args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in a process of its own, with umask 0 (the worst case)."""
    return subprocess.run([sys.executable, "-m", "migtui", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120,
                          preexec_fn=lambda: os.umask(0))


def all_files(root: Path) -> Iterator[Path]:
    for p in root.rglob("*"):
        if p.is_file():
            yield p


def assert_no_password(where: str, text: str) -> None:
    assert LEAK not in text, f"the password (or part of it) shows in {where}"


def test_cli_outputs_journal_and_export_never_hold_the_password(
        shop_db: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    url = with_password(shop_db)
    outputs: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    run = migtui("run", str(plan), "--dsn", url)
    outputs.append(("run", run))
    assert run.returncode == 0, run.stdout + run.stderr
    # the command step printed the URL it got: it holds no password at all
    assert "url=postgresql://postgres@" in run.stdout
    assert column_exists(shop_db, "orders", "note")
    outputs.append(("run --json", migtui("run", str(plan), "--dsn", url, "--json")))
    outputs.append(("status", migtui("status", str(plan), "--dsn", url)))
    outputs.append(("status --json", migtui("status", str(plan), "--dsn", url, "--json")))
    outputs.append(("dry run", migtui("run", str(plan), "--dsn", url, "--dry-run")))
    # the URL from the target's dsn_env, the way most operators pass it
    outputs.append(("rollback", migtui("rollback", str(plan), "--to", "show_url",
                                       env={"MIGTUI_TEST_TARGET_URL": url})))
    assert outputs[-1][1].returncode == 0, outputs[-1][1].stdout + outputs[-1][1].stderr
    # a server that is not there: the connection error names the URL, masked
    gone = with_password(shop_db, host="127.0.0.1", port="1")
    failed = migtui("run", str(plan), "--dsn", gone)
    outputs.append(("connection error", failed))
    assert failed.returncode == 1 and "***" in failed.stdout + failed.stderr
    export = tmp_path / "export.md"
    outputs.append(("export", migtui("export", str(plan), "-o", str(export), "--dsn", url)))
    assert outputs[-1][1].returncode == 0, outputs[-1][1].stderr
    # the export tells the failed run's story, with the URL it could not reach, masked
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/" in export.read_text()
    for name, proc in outputs:
        assert "Traceback" not in proc.stderr, proc.stderr
        assert_no_password(f"the output of migtui {name}", proc.stdout + proc.stderr)
    jpath = journal_path(plan, "secret-plan")
    assert "url=postgresql://postgres@" in jpath.read_text()
    for f in all_files(tmp_path):  # journal, export, anything else written beside the plan
        assert_no_password(str(f.relative_to(tmp_path)), f.read_text(errors="replace"))
    # written with umask 0, the journal is still the owner's alone
    assert stat.S_IMODE(jpath.stat().st_mode) == 0o600
    assert stat.S_IMODE(jpath.parent.stat().st_mode) == 0o700


def test_journal_files_are_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "deep" / ".migtui" / "p.journal.jsonl"
        with Journal(path) as j:
            j.append({"kind": "NoteAdded", "text": "hello"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a journal that exists with a wider mode is narrowed when it is opened again
    path.chmod(0o644)
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------------- the app


def svg_text(svg: str) -> str:
    """The text of a Textual SVG screenshot (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_app_screens_log_and_screenshots_never_hold_the_password(
        shop_db: str, tmp_path: Path) -> None:
    from migtui.tui import make_app
    from migtui.tui.screens.main import MainScreen
    from migtui.tui.widgets.log import LogPane

    plan = write_plan(tmp_path)
    url = with_password(shop_db)
    handler = Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    shots: list[str] = []
    log_text: list[str] = []

    async def drive() -> None:
        app = make_app(plan, url, "main", operator="tester", sample=True)
        async with app.run_test(size=(120, 36)) as pilot:
            async def until(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
                loop = asyncio.get_running_loop()
                end = loop.time() + timeout
                while not pred():
                    assert loop.time() < end, "condition not reached in time"
                    await pilot.pause(0.05)

            main = app.main
            assert isinstance(main, MainScreen)
            await until(lambda: main.statuses_known)
            await pilot.press("j", "j")  # the steps section
            for step in ("add_col", "show_url"):
                await pilot.press("x")
                await until(lambda s=step: main.rows[s].state == "applied")
                await until(lambda: main.job is None)
            shots.append(app.export_screenshot())
            app.save_screenshot(filename="shot.svg", path=str(tmp_path))
            await pilot.press("question_mark")
            await pilot.pause()
            shots.append(app.export_screenshot())
            await pilot.press("escape")
            await pilot.pause()
            for rich_log in main.query_one(LogPane).query("RichLog"):
                log_text.extend("".join(seg.text for seg in strip)
                                for strip in rich_log.lines)  # type: ignore[attr-defined]

    try:
        asyncio.run(drive())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = "\n".join(log_text)
    # the run log showed the URL (masked) and the command step's output (masked)
    assert "postgres:***@" in text and "url=postgresql://postgres@" in text
    assert_no_password("the run log", text)
    assert "postgres:***@" in svg_text(shots[0]) or "postgres@" in svg_text(shots[0])
    for i, svg in enumerate(shots):
        assert_no_password(f"screen {i}", svg)
        assert_no_password(f"screen {i} (text)", svg_text(svg))
    for f in all_files(tmp_path):  # the saved screenshot, the journal
        assert_no_password(str(f.relative_to(tmp_path)), f.read_text(errors="replace"))
    assert (tmp_path / "shot.svg").exists()
    assert_no_password("the Python log", "\n".join(handler.lines))


ENC = quote(PASSWORD, safe="")
ENC_LOWER = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), ENC)


@pytest.mark.parametrize("url", [
    f"postgresql://postgres:{ENC}@db.example/x",
    f"postgresql://postgres:{ENC_LOWER}@db.example/x",  # lower-case hex, as typed by hand
    f"postgresql://postgres@db.example/x?password={ENC}",
    f"postgresql+psycopg://postgres:{ENC}@db.example:5433/x?sslmode=require",
    f"postgresql://postgres:{ENC}@db.example/x?schema=tenant1",
    "host=db.example dbname=x user=postgres password='"
    + PASSWORD.replace("\\", "\\\\").replace("'", "\\'") + "'",
])
def test_masked_forms_never_hold_the_password(url: str) -> None:
    from migtui.secrets import redact_url, scrub

    shown = redact_url(url)
    assert "***" in shown and "db.example" in shown
    assert_no_password("the masked form", shown)
    assert_no_password("a scrubbed message", scrub(f"error near {url}"))
    assert parse_dsn(url).password == PASSWORD


def test_every_encoding_is_scrubbed() -> None:
    import json
    from urllib.parse import quote_plus

    from migtui.secrets import register, scrub

    register(PASSWORD)
    for form in (PASSWORD, quote(PASSWORD), quote(PASSWORD, safe=""), quote_plus(PASSWORD),
                 json.dumps(PASSWORD), json.dumps(PASSWORD, ensure_ascii=False),
                 ENC_LOWER):
        assert_no_password(f"the scrubbed form of {form!r}", scrub(f"<{form}>"))


def test_json_serialisers_scrub_before_escaping(tmp_path: Path) -> None:
    """A quote or a backslash in the password must not hide it from the scrubber."""
    import io
    import json

    from migtui.cli.printer import Printer
    from migtui.events import StepFailed
    from migtui.secrets import register

    register(PASSWORD)
    error = f'invalid input syntax for type integer: "{PASSWORD}"'
    event = StepFailed(step_id="s", action="apply", elapsed=0.1, error=error,
                       statement=f"SELECT '{PASSWORD}'::int")
    with Journal(tmp_path / "j.jsonl") as j:
        j.record(event)
        j.append({"kind": "NoteAdded", "nested": [{"text": PASSWORD}], PASSWORD: 1})
    text = (tmp_path / "j.jsonl").read_text()
    assert_no_password("the journal", text)
    assert '"***"' in text  # the error message is still there, masked
    out = io.StringIO()
    Printer(out, as_json=True)(event)
    assert_no_password("--json", out.getvalue())
    assert json.loads(out.getvalue())["error"].endswith('"***"')


# a command step that shows what it got: the password file (mode, content, every encoding)
FORMS_SCRIPT = r"""
import hashlib, json, os, stat, sys
from urllib.parse import quote, quote_plus


def fields(line):  # a .pgpass line: ':' separates, '\' escapes
    out, cur, esc = [], "", False
    for ch in line:
        if esc:
            cur, esc = cur + ch, False
        elif ch == "\\":
            esc = True
        elif ch == ":":
            out, cur = out + [cur], ""
        else:
            cur += ch
    return out + [cur]


path = os.environ["PGPASSFILE"]
print("passfile=" + path)
print("mode=%o" % stat.S_IMODE(os.stat(path).st_mode))
print("pgpassword-set=%s" % ("PGPASSWORD" in os.environ))
pw = fields(open(path, encoding="utf-8").read().splitlines()[0])[4]
print("pgpass-ok=%s" % (hashlib.sha256(pw.encode()).hexdigest() == sys.argv[1]))
for form in (pw, quote(pw, safe=""), quote(pw, safe="").replace("%C3", "%c3"), quote_plus(pw),
             json.dumps(pw), json.dumps(pw, ensure_ascii=False)):
    print("form=" + form)
"""

COMMAND_STEPS = """
- id: show_url
  command: {{run: 'echo "url=$DATABASE_URL"'}}
- id: forms
  command: {{run: '{python} forms.py {digest}'}}
- id: probe
  command: {{run: 'sh -c "sleep 1.5" argv-probe "$DATABASE_URL"'}}
"""


def proc_cmdlines() -> list[str]:
    lines = []
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(p.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return lines


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_command_steps_get_the_password_in_a_private_file_only(
        shop_db: str, tmp_path: Path) -> None:
    import hashlib
    import time

    (tmp_path / "forms.py").write_text(FORMS_SCRIPT)
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text(COMMAND_STEPS.format(python=sys.executable, digest=digest),
                              plan_id="cmd-plan"))
    url = with_password(shop_db)
    env = {**os.environ, "PGPASSWORD": "stale-env-password"}
    proc = subprocess.Popen([sys.executable, "-m", "migtui", "run", str(plan), "--dsn", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: list[str] = []
    while proc.poll() is None:  # sample every process's argv while the steps run
        seen += [c for c in proc_cmdlines() if "argv-probe" in c and "sleep" in c]
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, out + err
    # the child's argv was sampled, holds the URL, and the URL holds no password
    probes = [c for c in seen if "postgresql://postgres@" in c]
    assert probes, f"the probe command was never seen running: {seen[:3]}"
    for c in seen:
        assert_no_password("a child's /proc/*/cmdline", c)
    assert "url=postgresql://postgres@" in out
    # the password file: owner-only, the right password (checked by digest), gone afterwards
    assert "mode=600" in out and "pgpass-ok=True" in out, out
    assert "pgpassword-set=False" in out  # a stale PGPASSWORD cannot override the file
    passfile = next(ln.split("=", 1)[1] for ln in out.splitlines() if "passfile=" in ln)
    assert not Path(passfile.strip()).exists()
    forms = [ln.split("form=", 1)[1] for ln in out.splitlines() if "form=" in ln]
    assert forms == ["***"] * 4 + ['"***"'] * 2, out  # every encoding printed, all masked
    assert_no_password("the run's output", out + err)
    jtext = journal_path(plan, "cmd-plan").read_text()
    assert "form=***" in jtext
    assert_no_password("the journal", jtext)


def test_a_password_in_an_error_is_masked_in_text_json_and_journal(
        db_url: str, tmp_path: Path) -> None:
    """The repro: a statement whose error quotes the password, with its " and \\\\."""
    plan = tmp_path / "leak.yaml"
    plan.write_text(plan_text(f"- id: leak\n  sql: |\n    SELECT '{PASSWORD}'::int;\n"
                              "  rollback: SELECT 1;\n", plan_id="leak-plan"))
    url = with_password(db_url)
    outs = [migtui("run", str(plan), "--dsn", url),
            migtui("run", str(plan), "--dsn", url, "--json"),
            migtui("status", str(plan), "--dsn", url, "--json")]
    assert outs[0].returncode == 1 and "invalid input syntax" in outs[0].stdout
    assert '"***"' in outs[0].stdout
    assert "invalid input syntax" in outs[1].stdout
    for p in outs:
        assert "Traceback" not in p.stderr
        assert_no_password("the output", p.stdout + p.stderr)
    jtext = journal_path(plan, "leak-plan").read_text()
    assert "invalid input syntax" in jtext
    assert_no_password("the journal", jtext)


def test_metrics_and_the_served_app_never_hold_the_password(
        shop_db: str, tmp_path: Path) -> None:
    """/metrics scraped during a real run, and the served app's page and websocket frames
    (in headless Chromium, when there is one), with the password in the run's URL."""
    from tests.metrics.helpers import PLAN as METRICS_PLAN
    from tests.metrics.helpers import run_plan

    url = with_password(shop_db)
    events, during, final = run_plan(METRICS_PLAN.format(above="5s", settle="0.3"), url)
    assert events[-1].kind == "RunFinished" and during
    texts = [repr(sorted(samples.items(), key=repr)) for samples in [*during, final]]
    assert "migtui_run_info" in texts[-1]  # the labels that could carry a URL are there
    assert "migtui_probe_latency_p95_seconds" in texts[-1]
    for text in texts:
        assert_no_password("/metrics", text)

    from tests.serve.helpers import CHROMIUM, Served, plain

    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"/metrics checked; no Chromium at {CHROMIUM} for the served app")
    served = Served(str(write_plan(tmp_path)), "--port", "0", "--dsn", url)
    try:
        status, page_html = served.get(f"/?token={served.token}")
        assert status == 200
        assert_no_password("the served page", page_html)
        frames: list[bytes | str] = []
        with sync_api.sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = b.new_page(viewport={"width": 1400, "height": 900})
                page.on("websocket", lambda ws: ws.on("framereceived",
                                                      lambda f: frames.append(f)))
                page.goto(served.url)
                assert_no_password("the served page", page.content())
                database = parse_dsn(shop_db).params.get("dbname", "")
                for _ in range(150):  # bounded: the app connects and shows the database
                    if "connected:" in plain(frames) and database in plain(frames):
                        break
                    page.wait_for_timeout(200)
                assert "connected:" in plain(frames)
            finally:
                b.close()
        raw = b"".join(f if isinstance(f, bytes) else f.encode() for f in frames)
        assert_no_password("the websocket frames", raw.decode("utf-8", "replace"))
        assert_no_password("the websocket frames", plain(frames))
        assert quote(PASSWORD, safe="").encode() not in raw
    finally:
        out = served.stop()
    assert_no_password("the server's output", out)


def test_a_short_password_is_masked_alone_but_words_keep_their_letters() -> None:
    from migtui import secrets

    secrets.register("Q7")  # short and unusual: other tests share the process's registry
    assert secrets.scrub("expected SEQ7Q7 in words") == "expected SEQ7Q7 in words"
    assert secrets.scrub("postgresql://u:Q7@h/db") == "postgresql://u:***@h/db"
    assert secrets.scrub("password=Q7 host=h") == "password=*** host=h"
