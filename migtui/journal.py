"""The append-only run journal: ticks, notes, events and trips, one JSON object a line.

It sits beside the plan in ``.migtui/<plan-id>.journal.jsonl`` (owner-only, 0600). Every
record is flushed and fsynced before ``append`` returns, so a dropped SSH session or a
kill -9 loses nothing that was acknowledged. The author's YAML is never rewritten.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from migtui.events import Event, now
from migtui.plan.model import PLAN_ID_RE
from migtui.secrets import scrub, scrub_obj, scrubbed_str


def journal_path(plan_path: str | Path, plan_id: str) -> Path:
    """``.migtui/<plan-id>.journal.jsonl`` beside the plan; never anywhere else.

    The loader already restricts plan ids to a safe pattern; this checks again (defence in
    depth), so an id that names a path ('../x', '/tmp/x', 'a/b') can never place the file
    outside the journal directory. Raises ValueError for such an id.
    """
    folder = Path(plan_path).resolve().parent / ".migtui"
    if not PLAN_ID_RE.fullmatch(plan_id):
        raise ValueError(f"plan id {plan_id[:80]!r} cannot name a journal file; expected "
                         f"letters, digits, '.', '_' or '-'")
    path = (folder / f"{plan_id}.journal.jsonl").resolve()
    if path.parent != folder.resolve():
        raise ValueError(f"plan id {plan_id[:80]!r} places the journal outside {folder}")
    return path


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        self._fd = fd

    def append(self, record: dict[str, Any]) -> None:
        record = {"ts": now().isoformat(), **record}
        # scrub the strings, then encode: JSON escaping could hide a secret from scrub()
        text = json.dumps(scrub_obj(record), default=scrubbed_str, ensure_ascii=False)
        line = scrub(text) + "\n"
        with self._lock:
            os.write(self._fd, line.encode("utf-8"))
            os.fsync(self._fd)

    def record(self, event: Event) -> None:
        """An ``Emit`` callback: journal any event."""
        self.append(event.to_record())

    __call__ = record

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records in order. A torn last line (a crash mid-write) is skipped."""
    p = Path(path)
    if not p.exists():
        return
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                yield rec
