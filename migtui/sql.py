"""SQL statements of a step, split and classified by the PostgreSQL parser (pglast).

Never split on semicolons: strings, dollar quotes and comments make that wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast, parser
from pglast.enums import AlterTableType, LockClauseStrength  # noqa: F401  (re-exported for lint)


class SqlSyntaxError(ValueError):
    def __init__(self, message: str, offset: int | None, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.line = line  # 1-based line within the SQL text


@dataclass(frozen=True)
class Statement:
    text: str
    node: Any  # a pglast.ast node
    offset: int  # character offset within the step's SQL
    line: int  # 1-based line within the step's SQL

    @property
    def kind(self) -> str:
        return type(self.node).__name__

    @property
    def autocommit(self) -> bool:
        """True when PostgreSQL refuses to run it inside a transaction block."""
        return needs_autocommit(self.node)

    @property
    def lock(self) -> str:
        return lock_mode(self.node)


def _line_of(sql: str, offset: int) -> int:
    return sql.count("\n", 0, offset) + 1


def split(sql: str) -> list[Statement]:
    """Parse ``sql`` into statements. Raises SqlSyntaxError with the line of the error."""
    try:
        raw = pglast.parse_sql(sql)
        slices = parser.split(sql, with_parser=True, only_slices=True)
    except parser.ParseError as e:
        msg = e.args[0] if e.args else str(e)
        offset = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], int) else None
        line = _line_of(sql, offset) if offset is not None else None
        raise SqlSyntaxError(str(msg), offset, line) from None
    out: list[Statement] = []
    for rs, sl in zip(raw, slices, strict=True):
        # the slice starts after leading comments/whitespace of the raw statement
        start = sl.start
        out.append(Statement(sql[sl], rs.stmt, start, _line_of(sql, start)))
    return out


def _has_option(options: Any, name: str) -> bool:
    return any(isinstance(opt, ast.DefElem) and opt.defname == name for opt in options or ())


def needs_autocommit(node: Any) -> bool:
    if isinstance(node, ast.IndexStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.DropStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return _has_option(node.params, "concurrently")
    if isinstance(node, ast.VacuumStmt):
        return bool(node.is_vacuumcmd)  # VACUUM yes; ANALYZE alone may run in a transaction
    # ALTER TYPE ... ADD VALUE runs in a transaction block since PostgreSQL 12; the new
    # value only cannot be used before that transaction commits (the server says so, 55P04).
    if isinstance(node, ast.CreatedbStmt | ast.DropdbStmt | ast.AlterSystemStmt):
        return True
    if isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if (getattr(cmd, "subtype", None) == AlterTableType.AT_DetachPartition
                    and getattr(cmd.def_, "concurrent", False)):
                return True
    return False


# Table-level lock taken by a statement (PostgreSQL docs, "Explicit Locking").
_ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
_SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
_SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"

_ALTER_TABLE_LOCKS = {
    AlterTableType.AT_SetStatistics: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_ValidateConstraint: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_ClusterOn: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_DropCluster: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_SetRelOptions: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_ResetRelOptions: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_AttachPartition: _SHARE_UPDATE_EXCLUSIVE,
    AlterTableType.AT_EnableTrig: _SHARE_ROW_EXCLUSIVE,
    AlterTableType.AT_DisableTrig: _SHARE_ROW_EXCLUSIVE,
}


def lock_mode(node: Any) -> str:
    """The strongest table lock the statement takes, or 'none'."""
    match node:
        case ast.IndexStmt():
            return _SHARE_UPDATE_EXCLUSIVE if node.concurrent else "SHARE"
        case ast.DropStmt():
            return _SHARE_UPDATE_EXCLUSIVE if node.concurrent else _ACCESS_EXCLUSIVE
        case ast.ReindexStmt():
            if _has_option(node.params, "concurrently"):
                return _SHARE_UPDATE_EXCLUSIVE
            return "SHARE"  # on the table; ACCESS EXCLUSIVE on each index it rebuilds
        case ast.AlterTableStmt():
            modes = {_ALTER_TABLE_LOCKS.get(c.subtype, _ACCESS_EXCLUSIVE)
                     for c in node.cmds or () if isinstance(c, ast.AlterTableCmd)}
            if _ACCESS_EXCLUSIVE in modes or not modes:
                if any(isinstance(c, ast.AlterTableCmd) and c.subtype == AlterTableType.AT_AddConstraint
                       and getattr(c.def_, "contype", None) is not None
                       and _is_fk(c.def_) for c in node.cmds or ()) and len(modes) == 1:
                    return _SHARE_ROW_EXCLUSIVE
                return _ACCESS_EXCLUSIVE
            return _SHARE_ROW_EXCLUSIVE if _SHARE_ROW_EXCLUSIVE in modes else _SHARE_UPDATE_EXCLUSIVE
        case ast.VacuumStmt():
            full = _has_option(node.options, "full")
            if not node.is_vacuumcmd:
                return _SHARE_UPDATE_EXCLUSIVE  # ANALYZE
            return _ACCESS_EXCLUSIVE if full else _SHARE_UPDATE_EXCLUSIVE
        case ast.ClusterStmt() | ast.TruncateStmt() | ast.RenameStmt():
            return _ACCESS_EXCLUSIVE
        case ast.UpdateStmt() | ast.DeleteStmt() | ast.InsertStmt() | ast.MergeStmt():
            return "ROW EXCLUSIVE"
        case ast.SelectStmt() | ast.ViewStmt():
            # reading a relation (or defining a view over it) takes ACCESS SHARE on it;
            # SELECT 1 reads none
            return "ACCESS SHARE" if relation_names(node) else "none"
        case ast.CreateStmt():
            # a new table is nobody else's yet; a foreign key locks the table it references
            return _SHARE_ROW_EXCLUSIVE if _creates_fk(node) else "none"
        case ast.CreateSeqStmt() | ast.CreateFunctionStmt():
            return "none"
        case ast.CreateTrigStmt():
            return _SHARE_ROW_EXCLUSIVE
        case ast.AlterEnumStmt():
            return "EXCLUSIVE (type)"
        case ast.CommentStmt():
            return _SHARE_UPDATE_EXCLUSIVE
        case ast.LockStmt():
            return "as requested"
    return "none"


def _creates_fk(node: Any) -> bool:
    for elt in node.tableElts or ():
        constraints = [elt] if isinstance(elt, ast.Constraint) else (
            getattr(elt, "constraints", None) or ())
        if any(_is_fk(c) for c in constraints):
            return True
    return False


def _is_fk(constraint: Any) -> bool:
    from pglast.enums import ConstrType

    return getattr(constraint, "contype", None) == ConstrType.CONSTR_FOREIGN


def relation_names(node: Any) -> list[str]:
    """Qualified names of the tables, indexes and other relations a statement names."""
    from pglast.visitors import Visitor

    names: list[str] = []

    class _Collect(Visitor):  # type: ignore[misc]
        def visit_RangeVar(self, _ancestors: Any, n: Any) -> None:  # noqa: N802
            names.append(".".join(p for p in (n.schemaname, n.relname) if p))

    _Collect()(node)
    if isinstance(node, ast.DropStmt):
        for obj in node.objects or ():
            if isinstance(obj, tuple | list) and all(isinstance(p, ast.String) for p in obj):
                names.append(".".join(p.sval for p in obj))
    return list(dict.fromkeys(names))


class TransactionControlError(ValueError):
    """Transaction control a step cannot hold (ROLLBACK, savepoints, two-phase commit...)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _transaction_kind(node: Any) -> str | None:
    """'begin', 'commit' or 'other' for a transaction-control statement, else None."""
    from pglast.enums import TransactionStmtKind as K

    if not isinstance(node, ast.TransactionStmt):
        return None
    if node.kind in (K.TRANS_STMT_BEGIN, K.TRANS_STMT_START) and not node.options:
        return "begin"
    if node.kind == K.TRANS_STMT_COMMIT and not node.chain:
        return "commit"
    return "other"


def fold_transaction_control(stmts: list[Statement]) -> tuple[list[Statement], list[int]]:
    """Statements without their own ``BEGIN``/``COMMIT``, and the lines those were on.

    A migration written for a tool that sends it as one script (Prisma wraps enum changes in
    ``BEGIN; ... COMMIT;``) runs in migtui as ONE transaction, so its own brackets are folded
    into migtui's: the whole script commits once, with its history row, or not at all.
    Anything else (``ROLLBACK``, savepoints, ``BEGIN ISOLATION LEVEL``, ``COMMIT AND CHAIN``,
    two-phase commit) would change what commits, and raises TransactionControlError.
    """
    kept: list[Statement] = []
    folded: list[int] = []
    for st in stmts:
        kind = _transaction_kind(st.node)
        if kind is None:
            kept.append(st)
        elif kind in ("begin", "commit"):
            folded.append(st.line)
        else:
            raise TransactionControlError(
                f"line {st.line}: {' '.join(st.text.split())[:60]} controls the transaction "
                f"itself; expected statements that run in one transaction (migtui runs a step "
                f"as one, and folds a script's own BEGIN/COMMIT into it), without ROLLBACK, "
                f"savepoints or prepared transactions", st.line)
    return kept, folded
