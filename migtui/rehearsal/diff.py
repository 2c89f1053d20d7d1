"""Readable differences between two fingerprints: what a rollback failed to restore.

Each difference is one line a DBA reads as a finding, e.g. "index orders_status_idx still
present", "column orders.status still present", "constraint orders.c is NOT VALID (was
valid)", "table orders: 12 rows fewer", "table orders: data checksum differs".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migtui.fmt import shorten
from migtui.rehearsal.fingerprint import CATEGORIES, Fingerprint


@dataclass(frozen=True)
class Difference:
    category: str  # schema | table | column | ... | data
    name: str  # shown without the "public." prefix
    text: str  # the readable line
    advisory: bool = False  # shown, but not counted as a failure (e.g. traffic wrote data)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "name": self.name, "text": self.text,
                "advisory": self.advisory}


def short(name: str) -> str:
    return name[len("public."):] if name.startswith("public.") else name


def _value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return shorten(str(v), 120)


def _attr_change(cat: str, name: str, attr: str, before: Any, after: Any) -> str:
    label = f"{cat} {name}"
    if attr == "valid":
        if cat == "index":
            return f"{label} is {'valid' if after else 'INVALID'} (was " \
                   f"{'valid' if before else 'INVALID'})"
        return f"{label} is {'valid' if after else 'NOT VALID'} (was " \
               f"{'valid' if before else 'NOT VALID'})"
    if attr == "not null":
        return f"{label} is {'NOT NULL' if after else 'nullable'} (was " \
               f"{'NOT NULL' if before else 'nullable'})"
    return f"{label}: {attr} {_value(before)} → {_value(after)}"


def compare(before: Fingerprint, after: Fingerprint, *, data_advisory: str = ""
            ) -> list[Difference]:
    """Differences from ``before`` to ``after``. With ``data_advisory`` (the reason, e.g.
    traffic wrote to the tables meanwhile), data differences are marked advisory."""
    out: list[Difference] = []
    # a table (or view) that appeared or vanished is one finding, not one per column
    gone = {k for cat in ("table", "view") for k in
            set(before.objects.get(cat, {})) ^ set(after.objects.get(cat, {}))}
    for cat in CATEGORIES:
        b = before.objects.get(cat, {})
        a = after.objects.get(cat, {})
        for key in sorted(set(b) | set(a)):
            name = short(key)
            owner = (b.get(key) or a.get(key) or {}).get("table") if cat == "index" else (
                key.rsplit(".", 1)[0] if cat in ("column", "constraint", "trigger") else None)
            if owner in gone and (key not in a or key not in b):
                continue
            if key not in b:
                out.append(Difference(cat, name, f"{cat} {name} still present"))
            elif key not in a:
                out.append(Difference(cat, name, f"{cat} {name} missing (was present)"))
            else:
                for attr in sorted(set(b[key]) | set(a[key])):
                    bv, av = b[key].get(attr), a[key].get(attr)
                    if bv != av:
                        out.append(Difference(cat, name, _attr_change(cat, name, attr, bv, av)))
    out += compare_data(before, after, data_advisory)
    return out


def compare_data(before: Fingerprint, after: Fingerprint, advisory: str = ""
                 ) -> list[Difference]:
    out: list[Difference] = []
    why = f" ({advisory})" if advisory else ""
    for table in sorted(set(before.data) | set(after.data)):
        name = short(table)
        b, a = before.data.get(table), after.data.get(table)
        if b is None or a is None:
            continue  # the table itself is reported by the schema comparison
        if a.rows != b.rows:
            n = a.rows - b.rows
            more = f"{abs(n)} row{'s' if abs(n) != 1 else ''} {'more' if n > 0 else 'fewer'}"
            out.append(Difference("data", name, f"table {name}: {more} ({b.rows} → "
                                                f"{a.rows}){why}", bool(advisory)))
        elif a.checksum != b.checksum:
            out.append(Difference("data", name, f"table {name}: data checksum differs "
                                                f"({b.checksum} → {a.checksum}){why}",
                                  bool(advisory)))
    return out


def failures(diffs: list[Difference]) -> list[Difference]:
    return [d for d in diffs if not d.advisory]
