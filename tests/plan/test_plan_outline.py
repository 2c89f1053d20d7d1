"""The template's outline (migtui.plan.outline) against the template itself, the export
and the importer: one list of sections for all three."""

from __future__ import annotations

import re

import pytest

from migtui.document import export_markdown, import_markdown
from migtui.document.importer import REQUIRED_H2
from migtui.plan import load_plan, outline
from tests.conftest import PLANS, TEMPLATE

EXAMPLES = sorted(PLANS.glob("*.yaml"))


def structure(md: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each heading outside code fences, with the header row of the table right under it."""
    out: list[tuple[str, tuple[str, ...]]] = []
    fenced = False
    for line in md.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            continue
        elif re.match(r"^#{1,6} ", line):
            out.append((line.rstrip(), ()))
        elif line.startswith("|") and out and not out[-1][1]:
            out[-1] = (out[-1][0], tuple(c.strip() for c in line.strip().strip("|").split("|")))
    return out


def expected(phases: list[str], session: str, mtype: str, agent: str,
             entries: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The headings (and tables' columns) the outline gives for a document."""
    out: list[tuple[str, tuple[str, ...]]] = [
        (f"# {outline.TITLE}", ()), (f"## {outline.SESSION}: {session}", ()),
        (f"### {outline.MIGRATION_TYPE}: {mtype}", ()), (f"### {outline.AGENT}: {agent}", ())]
    for s in outline.SECTIONS:
        out.append((f"## {s.title}", s.columns))
        if s is outline.STRATEGY:
            out += [(f"### {p}", ()) for p in phases]
        elif s is outline.COMMUNICATION:
            out += [(f"### {e}", ()) for e in entries]
        out += [(f"### {sub.title}", sub.columns) for sub in s.subs]
    return out


def test_the_outline_is_the_template() -> None:
    got = structure(TEMPLATE.read_text())
    phases = [h.removeprefix("### ") for h, _ in got if h.startswith("### Phase ")]
    assert phases == [outline.phase_title(i, n) for i, n in
                      enumerate(["Preparation", "Execution", "Verification"], 1)]
    want = expected(phases, "[DATE]", "[Schema Change/Data Migration/Index Addition]",
                    "[Agent Name]", [outline.entry_title("[TIMESTAMP]", "[DATABASE_AGENT]")])
    assert got == want


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_export_writes_the_outline(path) -> None:
    plan = load_plan(path)
    got = structure(export_markdown(plan))
    head = {h.split(": ", 1)[0]: h.split(": ", 1)[1] for h, _ in got[1:4]}
    entries = [h.removeprefix("### ") for h, _ in got[got.index(
        (f"## {outline.COMMUNICATION.title}", ())) + 1:]]
    assert entries
    phases = [outline.phase_title(i, ph.name) for i, ph in enumerate(plan.phases, 1)]
    assert got == expected(phases, head[f"## {outline.SESSION}"],
                           head[f"### {outline.MIGRATION_TYPE}"], head[f"### {outline.AGENT}"],
                           entries)


def test_the_importer_requires_the_outlines_sections() -> None:
    assert [s.title for s in outline.SECTIONS] == REQUIRED_H2
    # and reads each section back from under the outline's headings: a renamed H3 loses it
    md = export_markdown(load_plan(EXAMPLES[0]))
    assert import_markdown(md, "x.md")["testing"]["staging"]
    renamed = md.replace(f"### {outline.TESTING.sub('staging').title}\n", "### Staging\n")
    assert "staging" not in import_markdown(renamed, "x.md").get("testing", {})


def test_plan_checklists_take_their_headings_from_the_outline() -> None:
    plan = load_plan(EXAMPLES[0])
    titles = {key: title for key, title, _items in plan.checklists()}
    for key in outline.CHECKLISTS:
        assert titles[key] == outline.checklist_title(key)
    assert [k for k, _t, _i in plan.checklists() if not k.startswith("phases.")] == \
        list(outline.CHECKLISTS)


def test_a_section_names_its_subsections_by_plan_key() -> None:
    assert outline.SCHEMA.sub("new_tables").title == "New Tables"
    assert outline.section("Testing Plan") is outline.TESTING
    assert outline.ZERO_DOWNTIME.checklists == ("zero_downtime.application_compatibility",
                                                "zero_downtime.database_performance")
    assert outline.OVERVIEW.checklists == ("overview",)
    with pytest.raises(KeyError):
        outline.SCHEMA.sub("nothing")
