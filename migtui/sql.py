"""SQL statements of a step, split and classified by the PostgreSQL parser (pglast).

Never split on semicolons: strings, dollar quotes and comments make that wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


# pglast builds its AST recursively in C: a statement nested deeply enough (50,000 chained
# '+' terms, a long UNION chain) overflows the C stack and kills the process (SIGSEGV).
# Nesting depth is bounded by a statement's length, so short statements parse directly and
# longer ones parse in a thread whose stack grows with the length of the longest statement.
# The worst case measured is about 170 bytes of C stack per character ('1+1+...'), so
# PARSE_STACK_PER_CHAR leaves a margin of three.
DIRECT_PARSE_CHARS = 16_384
PARSE_STACK_PER_CHAR = 512
MAX_STATEMENT_CHARS = 1 << 20  # 1 MiB: longer single statements are refused
_STACK_LOCK = threading.Lock()


def _check_text(sql: str) -> None:
    """Text that pglast cannot see as PostgreSQL would: refuse it with its place."""
    nul = sql.find("\0")
    if nul >= 0:
        raise SqlSyntaxError("a NUL character (\\0) in the SQL; PostgreSQL cannot run it, "
                             "and the parser would stop reading there", nul, _line_of(sql, nul))
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = sql[e.start]
        raise SqlSyntaxError(f"a character that is not valid Unicode ({ascii(bad)}, a lone "
                             f"surrogate); expected UTF-8 text", e.start,
                             _line_of(sql, e.start)) from None


def _parse_deep(sql: str, longest: int) -> Any:
    """pglast.parse_sql on a thread with a C stack big enough for ``longest`` characters."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(pglast.parse_sql(sql))
        except BaseException as e:  # noqa: BLE001  (re-raised in the caller's thread)
            failure.append(e)

    size = max(32 << 20, longest * PARSE_STACK_PER_CHAR + (16 << 20))
    size = (size + 0xFFFF) & ~0xFFFF
    with _STACK_LOCK:
        old = threading.stack_size()
        try:
            threading.stack_size(size)
            t = threading.Thread(target=work, name="migtui-sql-parse", daemon=True)
            t.start()
        except (RuntimeError, MemoryError, ValueError):
            raise SqlSyntaxError(f"too large to parse: a statement of {longest} characters "
                                 f"needs more memory than is available", None, None) from None
        finally:
            threading.stack_size(old)
    t.join()
    if failure:
        raise failure[0]
    return result[0]


def _slices(sql: str) -> tuple[slice, ...]:
    """The statements' slices of ``sql``, found by the parser without building an AST."""
    _check_text(sql)
    try:
        slices = tuple(parser.split(sql, with_parser=True, only_slices=True))
    except parser.ParseError as e:
        raise _syntax_error(sql, e) from None
    for sl in slices:
        if sl.stop - sl.start > MAX_STATEMENT_CHARS:
            raise SqlSyntaxError(
                f"a statement of {sl.stop - sl.start} characters; expected at most "
                f"{MAX_STATEMENT_CHARS} characters per statement", sl.start,
                _line_of(sql, sl.start))
    return slices


def _syntax_error(sql: str, e: parser.ParseError) -> SqlSyntaxError:
    msg = e.args[0] if e.args else str(e)
    offset = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], int) else None
    line = _line_of(sql, offset) if offset is not None else None
    return SqlSyntaxError(str(msg), offset, line)


def count_statements(sql: str) -> int:
    """How many statements ``sql`` holds; raises SqlSyntaxError.

    Fast: a short statement is only split (no AST is built: it cannot nest deeper than it
    has characters); a longer one is parsed in full, so that its depth is checked here.
    """
    slices = _slices(sql)
    if any(sl.stop - sl.start > MAX_SQL_DEPTH for sl in slices):
        parse_statements(sql)
    return len(slices)


# The lint and the runner walk a statement's tree recursively (deparse, deepcopy): about
# 140 levels of nesting reach Python's recursion limit. PostgreSQL queries written by
# people nest a few dozen levels; deeper ones are generated chains of operators.
MAX_SQL_DEPTH = 100


def _depth_over(node: Any, limit: int) -> bool:
    """True when the tree under ``node`` is more than ``limit`` nodes deep (iterative)."""
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        cur, depth = stack.pop()
        if isinstance(cur, ast.Node):
            if depth > limit:
                return True
            stack.extend((getattr(cur, attr, None), depth + 1) for attr in cur.__slots__)
        elif isinstance(cur, tuple | list):
            stack.extend((item, depth) for item in cur)
    return False


def parse_statements(sql: str) -> tuple[Any, tuple[slice, ...]]:
    """The one guarded entry to pglast's parser: (raw statements, their slices of ``sql``).

    Raises SqlSyntaxError, never anything that kills the process: text the parser would
    misread (NUL, lone surrogates) is refused first, statements are split without building
    the AST, and long ones are parsed on a stack sized for them.
    """
    slices = _slices(sql)
    longest = max((sl.stop - sl.start for sl in slices), default=0)
    try:
        raw = pglast.parse_sql(sql) if longest <= DIRECT_PARSE_CHARS else _parse_deep(sql, longest)
    except parser.ParseError as e:
        raise _syntax_error(sql, e) from None
    except (MemoryError, RecursionError):
        raise SqlSyntaxError(f"too large to parse: a statement of {longest} characters needs "
                             f"more memory than is available", None, None) from None
    for rs, sl in zip(raw, slices, strict=True):
        if sl.stop - sl.start > MAX_SQL_DEPTH and _depth_over(rs.stmt, MAX_SQL_DEPTH - 1):
            raise SqlSyntaxError(
                f"a statement nested more than {MAX_SQL_DEPTH} levels deep (a long chain of "
                f"operators, subqueries or function calls); expected at most {MAX_SQL_DEPTH} "
                f"levels: split the expression", sl.start, _line_of(sql, sl.start))
    return raw, slices


_memo = threading.local()


@contextmanager
def parse_once() -> Iterator[None]:
    """Within it, ``split`` parses each distinct text once (this thread): ``check`` reads
    every step twice, for what ``run`` would refuse and for the lint, and parsing is most
    of its time. Statements are frozen; the lint builds new nodes, never edits these."""
    outer = getattr(_memo, "texts", None)
    _memo.texts = outer if outer is not None else {}
    try:
        yield
    finally:
        _memo.texts = outer


def split(sql: str) -> list[Statement]:
    """Parse ``sql`` into statements. Raises SqlSyntaxError with the line of the error."""
    texts: dict[str, tuple[Statement, ...]] | None = getattr(_memo, "texts", None)
    if texts is None:
        return _split(sql)
    got = texts.get(sql)
    if got is None:
        got = texts[sql] = tuple(_split(sql))
    return list(got)


def _split(sql: str) -> list[Statement]:
    raw, slices = parse_statements(sql)
    out: list[Statement] = []
    line, counted = 1, 0
    for rs, sl in zip(raw, slices, strict=True):
        # the slice starts after leading comments/whitespace of the raw statement
        start = sl.start
        line += sql.count("\n", counted, start)  # lines counted once: linear in the text
        counted = start
        out.append(Statement(sql[sl], rs.stmt, start, line))
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
