"""Which events the run journal keeps: one policy for every consumer that runs a plan.

The journal is the durable record of a run (ticks, notes, steps, trips, the rollback); it
is fsynced per record. ``StepProgress`` is left out: a backfill emits it every batch, the
history table keeps the checkpoint, and ``StepFinished`` carries the final row count.
The gauges' snapshots are not journaled either; ``GaugeSample`` (one every 5 s, from
``sampler.gauge_samples``) keeps their series, with the backfill rate, for the plots.
Everything else is journaled — by ``migtui run``, ``migtui rollback``, the demo and the app
alike, because they all journal through ``JournalWriter``.

A rehearsal runs on another database but journals into the plan's journal: only its start,
its result and the items it proved (``rehearsal.JOURNAL_KINDS``), routed by
``rehearsal_route`` for ``migtui rehearse`` and the app alike.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from migtui.events import Emit, Event, StepProgress
from migtui.journal import Journal
from migtui.rehearsal import JOURNAL_KINDS

NOT_JOURNALED: tuple[type[Event], ...] = (StepProgress,)


def journaled(event: Event) -> bool:
    """True when ``event`` belongs in the run journal."""
    return not isinstance(event, NOT_JOURNALED)


class JournalWriter:
    """An ``Emit`` subscriber: appends the events the policy keeps; silent once closed.

    A journal that cannot be written (a full disk) must not stop a run halfway through a
    step: the write error is swallowed and counted in ``failed_writes``."""

    def __init__(self, path: str | Path) -> None:
        self.journal = Journal(path)
        self.path = self.journal.path
        self.closed = False
        self.paused = False  # watch mode: another run writes this journal; we only read it
        self.failed_writes = 0

    def __call__(self, event: Event) -> None:
        if self.closed or self.paused or not journaled(event):
            return
        try:
            self.journal.record(event)
        except OSError:
            self.failed_writes += 1

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.journal.close()


def rehearsal_route(journal: Emit, rest: Emit | None = None) -> Emit:
    """A rehearsal's events: its start, its result and its ticks to ``journal`` (the plan's
    journal, or the app's bus that journals them); the others — its steps on the staging
    database, which must not mix with the plan's own step results — only to ``rest``."""

    def route(event: Event) -> None:
        if event.kind in JOURNAL_KINDS:
            journal(event)
        elif rest is not None:
            rest(event)

    return route
