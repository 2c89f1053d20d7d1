"""The one item runner: a branch for every checklist action; what is unavailable is skipped."""

from __future__ import annotations

import typing
from pathlib import Path

from migtui.events import ItemFailed, ItemSkipped, ItemTicked
from migtui.execution import Run
from migtui.execution.items import HANDLERS, NO_ACTION, ItemActions, run_item
from migtui.plan import load_plan
from migtui.plan.model import Action
from migtui.runner import Runner
from tests.runner_helpers import column_exists, plan_text

STEPS = """
- id: add_col
  sql: ALTER TABLE orders ADD COLUMN note text;
  rollback: ALTER TABLE orders DROP COLUMN note;
"""

EVERY_ACTION = """
- name: Execution
  items:
    - {text: Baseline, run: {baseline: 1s}}
    - {text: Migrate, run: {steps: [add_col]}}
    - {text: No notes yet, run: {check: "SELECT count(*) FROM orders WHERE note IS NOT NULL", expect: "= 0"}}
    - {text: Say hello, run: {command: "echo hello"}}
    - {text: Watch, run: {watch: 1s}}
    - {text: Rehearse, run: {rehearse: true}}
    - Tell the team
"""


def action_types() -> set[type]:
    union = typing.get_args(Action)[0]  # Annotated[Union[Annotated[RunX, Tag], ...], ...]
    return {typing.get_args(member)[0] for member in typing.get_args(union)}


def test_every_action_type_has_a_handler() -> None:
    types = action_types()
    assert len(types) == 6
    assert set(HANDLERS) == types


def write(tmp_path: Path) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(STEPS, phases=EVERY_ACTION))
    return p


def test_without_gauges_or_rehearsal_those_items_are_skipped_with_the_reason(
        tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path))
    events: list = []
    # never connected: only the unavailable actions and the manual item are run
    runner = Runner(plan, "postgresql://nobody@127.0.0.1:1/nowhere", emit=events.append)
    actions = ItemActions(runner)
    phase = plan.phases[0]
    by_text = {i.text: i for i in phase.items}
    for text in ("Baseline", "Watch", "Rehearse", "Tell the team"):
        r = run_item(actions, "phases.execution", by_text[text])
        assert r.status == "skipped", r
    reasons = [e.reason for e in events if isinstance(e, ItemSkipped)]
    assert reasons[0].startswith("baseline needs the live gauges")
    assert reasons[1].startswith("watching needs the live gauges")
    assert reasons[2] == "rehearsal is not available in this run"
    assert reasons[3] == NO_ACTION
    assert not any(isinstance(e, ItemTicked | ItemFailed) for e in events)


def test_every_action_runs_through_the_one_item_runner(shop_db: str, tmp_path: Path) -> None:
    path = write(tmp_path)
    plan = load_plan(path)
    events: list = []
    with Run(plan, path, shop_db, operator="tester", subscribers=[events.append]) as run:
        assert run.runner is not None and run.watch is not None
        run.runner.open()
        run.watch.start()
        actions = run.actions(on_rehearse=lambda: "rehearsed on staging at 03:00")
        results = [run_item(actions, "phases.execution", item)
                   for item in plan.phases[0].items]
    assert [r.status for r in results] == ["done"] * 6 + ["skipped"]
    evidence = {r.text: r.message for r in results}
    assert evidence["Baseline"].startswith("baseline of 1s recorded")
    assert evidence["Migrate"].startswith("steps add_col:")
    assert evidence["No notes yet"] == "check 0 = 0"
    assert evidence["Say hello"].startswith("command exit 0")
    assert evidence["Watch"].startswith("watched the gauges for 1s")
    assert evidence["Rehearse"] == "rehearsed on staging at 03:00"
    ticked = [e.item for e in events if isinstance(e, ItemTicked)]
    assert len(ticked) == 6 and all(t.startswith("phases.execution/") for t in ticked)
    assert column_exists(shop_db, "orders", "note")


def test_a_failing_check_fails_the_item_and_stops_the_phase(shop_db: str,
                                                            tmp_path: Path) -> None:
    from migtui.execution.phases import run_phase

    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(STEPS, phases="""
        - name: Execution
          items:
            - {text: Orders are empty, run: {check: "SELECT count(*) FROM orders", expect: "= 0"}}
            - {text: Migrate, run: {steps: [add_col]}}
    """))
    plan = load_plan(p)
    events: list = []
    with Run(plan, p, shop_db, operator="tester", gauges=False,
             subscribers=[events.append]) as run:
        assert run.runner is not None
        run.runner.open()
        result = run_phase(run.actions(), plan.phases[0])
    assert result.outcome.status == "failed"
    assert result.outcome.message.startswith("Orders are empty: ")
    failed = [e for e in events if isinstance(e, ItemFailed)]
    assert len(failed) == 1 and failed[0].item == "phases.execution/orders-are-empty"
    assert not column_exists(shop_db, "orders", "note")  # the phase stopped
