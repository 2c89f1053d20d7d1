"""Running a plan: the one execution path for ``migtui run``, the demo and the app.

No Textual here. See docs/architecture.md for the layers and where each event is born.

* ``run``: ``Run`` (target, runner + advisory lock, journal, Watch, RunStarted/RunFinished)
  and ``execute`` (the headless forward run);
* ``items``: the one item runner for every checklist action;
* ``phases``: running a phase, and the forward part of a run;
* ``rollback``: rollback when a trigger or the operator asks;
* ``confirm``: the production confirmation, as a question the caller answers;
* ``report``: the report export (lint findings, scrubbed);
* ``journal_policy``: which events the journal keeps;
* ``describe``: events as text, for the printer and the app's log;
* ``session``: the app's long-lived link to one plan and database.
"""

from migtui.execution.run import Run, execute

__all__ = ["Run", "execute"]
