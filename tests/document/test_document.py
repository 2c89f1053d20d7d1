"""Export to the template's Markdown and import back: headings one for one, lossless."""

from __future__ import annotations

import re

import pytest

from migtui.cli import main
from migtui.document import export_markdown, import_markdown
from migtui.document.importer import ImportError_, to_yaml
from migtui.events import ItemTicked, NoteAdded, StepFinished, ThresholdChanged
from migtui.journal import Journal, journal_path, read_journal
from migtui.plan import load_plan, load_plan_text
from migtui.state import RunState
from tests.conftest import PLANS, REPO, SHARED_TEMPLATE, TEMPLATE

EXAMPLES = sorted(PLANS.glob("*.yaml"))


def headings(md: str) -> list[str]:
    out, fenced = [], False
    for line in md.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6} ", line):
            out.append(line.rstrip())
    return out


def template_patterns() -> list[re.Pattern[str]]:
    pats = []
    for h in headings(TEMPLATE.read_text()):
        parts = re.split(r"\[[^\]]+\]", h)  # [DATE], [Agent Name], ... are placeholders
        pats.append(re.compile("^" + ".+".join(map(re.escape, parts)) + "$"))
    return pats


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_export_headings_match_the_template_one_for_one(path):
    got = headings(export_markdown(load_plan(path)))
    pats = template_patterns()
    # the communication log's entry heading repeats once per entry
    last = pats[-1]
    assert last.pattern.startswith("^\\#\\#\\#\\ .+\\ \\-\\ .+"), last.pattern
    body, entries = got[: len(pats) - 1], got[len(pats) - 1:]
    assert len(body) == len(pats) - 1
    for pat, h in zip(pats, body, strict=False):
        assert pat.match(h), f"{h!r} does not match the template's {pat.pattern!r}"
    assert entries and all(last.match(h) for h in entries)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_export_import_export_is_stable(path):
    first = export_markdown(load_plan(path))
    data = import_markdown(first, "x.md")
    plan2 = load_plan_text(to_yaml(data), f"{path.stem}.yaml")
    assert export_markdown(plan2) == first
    original = load_plan(path)
    def norm(step):
        d = step.model_dump()
        for k in ("sql", "rollback"):
            if isinstance(d[k], str):  # a rollback may be a backfill: kept as it is
                d[k] = d[k].strip().rstrip(";")
        return d

    assert [norm(s) for s in plan2.steps] == [norm(s) for s in original.steps]
    assert plan2.phases == original.phases


def test_export_fills_in_the_journal_and_stays_stable(tmp_path):
    plan = load_plan(PLANS / "add-order-status.yaml")
    state = RunState.from_records([
        ItemTicked(item="phases.preparation/verify-rollback-procedures", done=True,
                   operator="alice").to_record(),
        NoteAdded(text="Starting the window", author="alice",
                  channel="communication").to_record(),
        StepFinished(step_id="add_status", action="apply", elapsed=0.12).to_record(),
        ThresholdChanged(metric="latency", state="trip", previous="warn", value=0.03,
                         threshold="+50%", limit=0.015, baseline=0.01, since=None,
                         trigger="Performance degradation >50%").to_record(),
    ])
    md = export_markdown(plan, state)
    assert re.search(r"- \[x\] Verify rollback procedures — ticked by alice at ", md)
    assert "Starting the window" in md
    assert "Step add_status applied in 0.12s" in md
    assert "- [x] Performance degradation >50%" in md
    again = export_markdown(load_plan_text(to_yaml(import_markdown(md, "r.md")),
                                           "add-order-status.yaml"))
    assert again == md


def test_sql_sections_hold_the_migration_and_the_reversed_rollback():
    md = export_markdown(load_plan(PLANS / "add-order-status.yaml"))
    migration = md.split("### Migration File", 1)[1].split("```", 2)[1]
    rollback = md.split("### Rollback Script", 1)[1].split("```", 2)[1]
    assert migration.index("ADD COLUMN status") < migration.index("CREATE INDEX CONCURRENTLY")
    assert rollback.index("DROP CONSTRAINT") < rollback.index("DROP INDEX CONCURRENTLY") \
        < rollback.index("DROP COLUMN IF EXISTS status")


def test_hand_filled_template_imports():
    md = TEMPLATE.read_text()
    md = md.replace("[Schema Change/Data Migration/Index Addition]", "Index Addition")
    md = md.replace("[Agent Name]", "alice").replace("[DATE]", "2026-11-20")
    md = md.replace("-- Add migration SQL here", "CREATE INDEX CONCURRENTLY i ON t (a);")
    md = md.replace("-- Add rollback SQL here", "DROP INDEX CONCURRENTLY i;")
    md = md.replace("- [ ] Backup current database", "- [x] Backup current database")
    plan = load_plan_text(to_yaml(import_markdown(md, "hand.md")), "hand.yaml")
    assert plan.type.value == "index_addition" and plan.agent == "alice"
    assert plan.steps[0].rollback == "DROP INDEX CONCURRENTLY i;"
    assert plan.phases[0].items[0].done is True
    assert [t.metric.value if t.metric else None for t in plan.risks.rollback_triggers] == [
        "latency", "error_rate", None, None]


@pytest.mark.parametrize("text", ["# Hello\n\nJust notes.\n", "", "## Migration Overview\n"])
def test_markdown_that_is_not_the_template(text):
    with pytest.raises(ImportError_) as exc:
        import_markdown(text, "notes.md")
    msg = str(exc.value)
    assert "notes.md:1:1" in msg and "not the migration plan template" in msg


def test_cli_export_and_import(tmp_path, capsys):
    plan = tmp_path / "p.yaml"
    plan.write_text((PLANS / "index-orders-customer-created.yaml").read_text())
    with Journal(journal_path(plan, "index-orders-customer-created")) as j:
        j.record(NoteAdded(text="window opened", author="bob", channel="communication"))
    out = tmp_path / "p.md"
    assert main(["export", str(plan), "-o", str(out)]) == 0
    assert "window opened" in out.read_text()
    back = tmp_path / "back.yaml"
    assert main(["import-markdown", str(out), "-o", str(back)]) == 0
    assert load_plan(back).steps[0].id == "create_index"
    bad = tmp_path / "bad.md"
    bad.write_text("# Not it\n")
    assert main(["import-markdown", str(bad)]) == 2
    assert "bad.md:1:1" in capsys.readouterr().err


def test_journal_is_owner_only_and_scrubs_secrets(tmp_path):
    from migtui import secrets

    secrets.register_url("postgresql://u:s3cr3t-pw@host/db")
    path = tmp_path / "j.jsonl"
    with Journal(path) as j:
        j.record(NoteAdded(text="dsn postgresql://u:s3cr3t-pw@host/db", author="a"))
    assert path.stat().st_mode & 0o777 == 0o600
    assert "s3cr3t-pw" not in path.read_text()
    assert next(read_journal(path))["text"] == "dsn postgresql://u:***@host/db"


def test_timeline_staging_duration_comes_from_the_rehearsal():
    from migtui.events import RehearsalFinished

    plan = load_plan(PLANS / "add-order-status.yaml")
    rec = RehearsalFinished(plan_id="add-order-status", plan_checksum="abc", ok=True,
                            target="staging", database="shop_staging", summary="clean",
                            duration=5.94).to_record()
    md = export_markdown(plan, RunState.from_records([rec]), plan_checksum="abc")
    row = next(ln for ln in md.splitlines() if ln.startswith("| Staging Testing"))
    assert "1 day (rehearsed " in row and ": 5.9s, clean)" in row
    stale = export_markdown(plan, RunState.from_records([rec]), plan_checksum="other")
    assert "rehearsal stale" in next(ln for ln in stale.splitlines()
                                     if ln.startswith("| Staging Testing"))


def test_the_repo_copy_of_the_template_is_current():
    if not SHARED_TEMPLATE.exists():
        pytest.skip("no shared template beside this clone")
    assert (REPO / "docs" / "migration-plan-template.md").read_text() == \
        SHARED_TEMPLATE.read_text()
