"""A backfill's ``set`` and ``where`` fragments, parsed and re-printed by pglast.

A fragment is never pasted into the batch statement as written: ``where: "true) OR (true"``
would close the batch's parenthesis and update the whole table in every batch. Each fragment
is parsed on its own, in a statement that can only hold what it should:

* ``set``: ``UPDATE x SET <set>``, which must parse to exactly one UPDATE with nothing but
  its assignments (no WHERE, FROM, RETURNING, WITH, no second statement);
* ``where``: ``SELECT 1 WHERE <where>``, which must parse to exactly one SELECT with nothing
  but its WHERE (no FROM, GROUP BY, UNION, ORDER BY, LIMIT, FOR UPDATE, ...).

Comments and subqueries are refused: a backfill's fragments are expressions over the row
being updated. The parse tree is then printed back (``RawStream``) and that text, not the
author's, goes into the batch statement.
"""

from __future__ import annotations

from typing import Any

import pglast
from pglast import ast, parser
from pglast.stream import RawStream
from pglast.visitors import Visitor

from migtui.fmt import shorten

_SET_EXAMPLE = "a = 1, b = coalesce(b, 0) + 1"
_WHERE_EXAMPLE = "status IS NULL AND created_at < now()"
_SET_PREFIX = "UPDATE x SET "
_WHERE_PREFIX = "SELECT 1 WHERE "
MAX_TOKENS = 2000


class FragmentError(ValueError):
    """A fragment that is not what it must be; the message says what was found and expected."""


def _short(text: str, width: int = 60) -> str:
    return repr(shorten(text, width))


def _parse_one(text: str, prefix: str, expected: str) -> Any:
    try:
        tokens = parser.scan(text)  # flat: safe on any input
        if len(tokens) > MAX_TOKENS:  # the tree parser recurses: keep it far from its limits
            raise FragmentError(f"found {len(tokens)} SQL tokens in one fragment; expected "
                                f"{expected}, of at most {MAX_TOKENS} tokens")
        stmts = pglast.parse_sql(prefix + text)
    except parser.ParseError as e:
        msg = e.args[0] if e.args else str(e)
        raise FragmentError(f"found {_short(text)}, which does not parse as that ({msg}); "
                            f"expected {expected}") from None
    except RecursionError:
        raise FragmentError(f"found an expression nested too deeply to parse; "
                            f"expected {expected}") from None
    if any(t.name in ("SQL_COMMENT", "C_COMMENT") for t in tokens):
        raise FragmentError(f"found a comment in {_short(text)}; expected {expected}, "
                            f"without comments")
    if len(stmts) != 1:
        raise FragmentError(f"found {len(stmts)} statements in {_short(text)}; "
                            f"expected {expected}")
    return stmts[0].stmt


def _extra_clauses(node: Any, reference: Any, allowed: str) -> list[str]:
    """The fields of ``node`` that differ from the bare ``reference`` statement."""
    return [name for name in node if name != allowed
            and getattr(node, name) != getattr(reference, name)]


class _Subqueries(Visitor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_SubLink(self, _ancestors: Any, _node: Any) -> None:  # noqa: N802
        self.found = True


def _refuse_subquery(tree: Any, text: str, expected: str) -> None:
    v = _Subqueries()
    v(tree)
    if v.found:
        raise FragmentError(f"found a subquery in {_short(text)}; expected {expected}, over "
                            f"the row's own columns (run such an update as an sql step)")


def _deparse(node: Any, text: str, expected: str) -> str:
    try:
        return str(RawStream()(node))
    except RecursionError:
        raise FragmentError(f"found an expression nested too deeply to print; "
                            f"expected {expected}") from None
    except Exception as e:  # pglast cannot print a few exotic nodes
        raise FragmentError(f"found {_short(text)}, which cannot be checked ({e}); "
                            f"expected {expected}") from None


_SET_REFERENCE = pglast.parse_sql(_SET_PREFIX + "a = 1")[0].stmt
_WHERE_REFERENCE = pglast.parse_sql(_WHERE_PREFIX + "true")[0].stmt


def set_clause(text: str) -> str:
    """The ``set`` fragment as re-printed by pglast. Raises FragmentError."""
    expected = f"a list of assignments (column = expression, ...), e.g. {_SET_EXAMPLE}"
    if not text.strip():
        raise FragmentError(f"found nothing; expected {expected}")
    stmt = _parse_one(text, _SET_PREFIX, expected)
    if not isinstance(stmt, ast.UpdateStmt) or stmt.relation != _SET_REFERENCE.relation:
        raise FragmentError(f"found {_short(text)}; expected {expected}")
    extra = _extra_clauses(stmt, _SET_REFERENCE, "targetList")
    if extra:
        raise FragmentError(f"found {_short(text)}, which adds {_clauses(extra)} to the "
                            f"UPDATE; expected {expected} and nothing else")
    _refuse_subquery(stmt.targetList, text, expected)
    out = _deparse(stmt, text, expected)
    if not out.startswith(_SET_PREFIX):  # pragma: no cover - pglast prints it this way
        raise FragmentError(f"found {_short(text)}; expected {expected}")
    return out.removeprefix(_SET_PREFIX)


def where_clause(text: str) -> str:
    """The ``where`` fragment as re-printed by pglast. Raises FragmentError."""
    expected = f"one boolean expression, e.g. {_WHERE_EXAMPLE}"
    if not text.strip():
        raise FragmentError(f"found nothing; expected {expected}")
    stmt = _parse_one(text, _WHERE_PREFIX, expected)
    if not isinstance(stmt, ast.SelectStmt) or stmt.whereClause is None:
        raise FragmentError(f"found {_short(text)}; expected {expected}")
    extra = _extra_clauses(stmt, _WHERE_REFERENCE, "whereClause")
    if extra:
        raise FragmentError(f"found {_short(text)}, which adds {_clauses(extra)}; "
                            f"expected {expected} and nothing else")
    _refuse_subquery(stmt.whereClause, text, expected)
    return _deparse(stmt.whereClause, text, expected)


_CLAUSE_NAMES = {
    "whereClause": "a WHERE clause", "fromClause": "a FROM clause",
    "returningList": "a RETURNING clause", "returningClause": "a RETURNING clause", "withClause": "a WITH clause",
    "groupClause": "GROUP BY", "havingClause": "HAVING", "windowClause": "WINDOW",
    "sortClause": "ORDER BY", "limitCount": "LIMIT", "limitOffset": "OFFSET",
    "limitOption": "LIMIT",
    "lockingClause": "FOR UPDATE/SHARE", "op": "UNION/INTERSECT/EXCEPT",
    "distinctClause": "DISTINCT", "intoClause": "INTO", "targetList": "a select list",
}


def _clauses(names: list[str]) -> str:
    return ", ".join(dict.fromkeys(_CLAUSE_NAMES.get(n, n) for n in names))
