"""The rollout report: one Markdown file (per-wave table, failures, durations) linking to
one report per member, each the plan template filled in from that member's journal."""

from __future__ import annotations

import re
from pathlib import Path

from migtui.document import export_markdown
from migtui.fleet.control import ControlDb, Rollout
from migtui.fleet.status import elapsed, member_table, wave_table
from migtui.fleet.worker import member_journal
from migtui.journal import read_journal
from migtui.plan.model import Plan
from migtui.runner.history import history_plan_id
from migtui.secrets import scrub
from migtui.state import RunState


def _md(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> list[str]:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return out


def write_report(db: ControlDb, r: Rollout, plan: Plan, workdir: Path, out: Path) -> int:
    """Write the rollout report to ``out`` and member reports beside it; how many members
    had a journal to report from."""
    members, waves = db.members(r.id), db.waves(r.id)
    wt = wave_table(dict(r.__dict__), waves, members)
    folder = out.parent / (out.stem + "-members")
    L = [f"# Fleet rollout {r.id}", "", f"- Fleet: {r.fleet}", f"- Plan: {r.plan_id}",
         f"- State: **{r.state}**" + (f" — {r.message}" if r.message else ""),
         f"- Failure policy: {r.on_failure}; concurrency {r.concurrency}"
         + (f", {r.per_server} per server" if r.per_server else ""),
         f"- Members: {wt.summary}", "", "## Waves", "", *_md(wt.headers, wt.rows), ""]
    failures = member_table(members, {"failed", "rolled_back", "rollback_pending"})
    L += ["## Failures and rollbacks", ""]
    L += _md(failures.headers, failures.rows) if failures.rows else ["None."]
    L += ["", "## Members", ""]
    rows = []
    written = 0
    for m in members:
        plan_id = history_plan_id(r.plan_id, m.get("schema"))
        journal = member_journal(workdir, r.fleet, plan_id, m["name"])
        link = ""
        if journal.exists():
            folder.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.@-]+", "_", m["name"]) + ".md"
            state = RunState.from_records(read_journal(journal))
            (folder / name).write_text(
                export_markdown(plan.model_copy(update={"id": plan_id}), state),
                encoding="utf-8")
            link = f"[report]({folder.name}/{name})"
            written += 1
        dur = elapsed(m.get("started_at"), m.get("finished_at"))
        rows.append((m["name"], str(m["wave"]), m["state"], str(m.get("attempts") or 0), dur,
                     link or "(no journal on this host)"))
    L += _md(("member", "wave", "state", "attempts", "duration", "report"), tuple(rows))
    out.write_text(scrub("\n".join(L) + "\n"), encoding="utf-8")
    return written
