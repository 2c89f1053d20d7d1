"""What a session folds from journal records: item results and the operator's skips."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SKIP_PREFIX = "operator skipped: "


@dataclass
class ItemResults:
    """The last result of each bound checklist item, folded from journal records."""

    last: dict[str, tuple[str, str]] = field(default_factory=dict)  # item -> (status, text)

    def apply(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        item = str(rec.get("item", ""))
        if kind == "ItemTicked" and rec.get("evidence"):
            self.last[item] = ("ok", str(rec["evidence"]))
        elif kind == "ItemFailed":
            self.last[item] = ("failed", str(rec.get("error", "")))
        elif kind == "ItemSkipped":
            self.last[item] = ("skipped", str(rec.get("reason", "")))


def operator_skips(records: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for rec in records:
        if rec.get("kind") == "StepSkipped" and str(rec.get("reason", "")).startswith(
                SKIP_PREFIX):
            out.add(str(rec.get("step_id")))
        elif rec.get("kind") == "StepFinished":
            out.discard(str(rec.get("step_id")))
    return out
