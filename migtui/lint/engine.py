"""Walk a plan's steps in order and run every rule on every statement, forward and rollback."""

from __future__ import annotations

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, NullTestType, ObjectType, TransactionStmtKind

from migtui.lint.context import Ctx, PlanState, bare, table_name
from migtui.lint.findings import RULES, Finding, Which
from migtui.lint.rules import STATEMENT_RULES
from migtui.lint.sizes import TableSizes
from migtui.lint.suppress import inline_ignores
from migtui.plan.model import Plan, Step
from migtui.sql import SqlSyntaxError, Statement, split

_BEGIN = {TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START}
_DESTRUCTIVE = (ast.DropStmt, ast.TruncateStmt, ast.DeleteStmt)


def lint_plan(plan: Plan, sizes: TableSizes | None = None,
              server_version: int | None = None) -> list[Finding]:
    """Every finding of the plan, in step order; suppressed ones carry their reason."""
    version = server_version or (sizes.server_version if sizes else None)
    state = PlanState(new_tables={bare(t.table) for t in plan.schema_changes.new_tables})
    out: list[Finding] = []
    for step in plan.steps:
        out += _lint_step(step, state, sizes, version)
    return out


def _lint_step(step: Step, state: PlanState, sizes: TableSizes | None,
               version: int | None) -> list[Finding]:
    found: list[Finding] = []
    forward: list[Statement] = []
    if step.sql:
        forward = _split(step.sql)
        found += _lint_text(step, "sql", step.sql, forward, state, sizes, version, record=True)
    if step.rollback_sql:  # a rollback written as a backfill is batched: nothing to lint
        found += _lint_text(step, "rollback", step.rollback_sql, _split(step.rollback_sql),
                            state, sizes, version, record=False)
    if step.irreversible is not None and step.kind in ("sql", "backfill"):
        destructive = any(_destroys(s.node) for s in forward)
        first = forward[0] if forward else None
        found.append(Finding(
            rule="missing-rollback", severity="warning" if destructive else "info",
            step_id=step.id, which="sql", line=first.line if first else 1,
            statement=first.text.strip() if first else "",
            message=f"no rollback: irreversible ({step.irreversible})"
                    + ("; it destroys data, so only a restore undoes it" if destructive else ""),
            safe_alternative="-- keep what it destroys first, e.g.\n"
                             "CREATE TABLE <table>_backup AS SELECT * FROM <table>;"
                             if destructive else ""))
    for rule, reason in step.lint_ignore.items():
        if not reason.strip():
            found.append(_meta(step, "suppression-without-reason",
                               f"lint_ignore {rule!r} gives no reason; it is not applied",
                               line=0, statement="lint_ignore"))
        elif rule not in RULES:
            found.append(_meta(step, "suppression-unknown-rule",
                               f"lint_ignore names {rule!r}, which is no lint rule",
                               line=0, statement="lint_ignore"))
    return [_step_suppress(step, f) for f in found]


def _meta(step: Step, rule: str, message: str, which: Which = "sql", line: int = 1,
          statement: str = "") -> Finding:
    return Finding(rule=rule, severity=RULES[rule].severity, step_id=step.id, which=which,
                   line=line, statement=statement, message=message)


def _step_suppress(step: Step, f: Finding) -> Finding:
    reason = step.lint_ignore.get(f.rule, "").strip()
    if reason and f.suppressed is None and not f.rule.startswith("suppression-"):
        return f.with_(suppressed=reason)
    return f


def _split(sql: str) -> list[Statement]:
    try:
        return split(sql)
    except SqlSyntaxError:
        return []  # the loader reports it; lint has nothing to read


def _lint_text(step: Step, which: Which, sql: str, stmts: list[Statement], state: PlanState,
               sizes: TableSizes | None, version: int | None, *, record: bool) -> list[Finding]:
    ignores = inline_ignores(sql, stmts)
    by_stmt: dict[int, dict[str, str]] = {}
    out: list[Finding] = []
    for ig in ignores:
        for rule in ig.rules or ("",):
            if not rule or rule not in RULES:
                out.append(_meta(step, "suppression-unknown-rule",
                                 f"inline ignore names {rule!r}, which is no lint rule"
                                 if rule else "inline ignore names no rule",
                                 which, ig.line, ig.text))
            elif not ig.reason:
                out.append(_meta(step, "suppression-without-reason",
                                 f"inline ignore of {rule} gives no reason ('because ...'); "
                                 f"it is not applied", which, ig.line, ig.text))
            elif ig.statement is not None:
                by_stmt.setdefault(ig.statement, {})[rule] = ig.reason
    in_tx = False
    for i, st in enumerate(stmts):
        node = st.node
        if isinstance(node, ast.TransactionStmt):
            in_tx = node.kind in _BEGIN or (in_tx and node.kind not in _ENDS)
            continue
        ctx = Ctx(step, which, st, state, sizes, version, in_tx)
        for rule_fn in STATEMENT_RULES:
            for f in rule_fn(ctx):
                reason = by_stmt.get(i, {}).get(f.rule)
                out.append(f.with_(suppressed=reason) if reason else f)
        if record:
            _record(state, node)
    return out


_ENDS = {TransactionStmtKind.TRANS_STMT_COMMIT, TransactionStmtKind.TRANS_STMT_ROLLBACK,
         TransactionStmtKind.TRANS_STMT_PREPARE, TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
         TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED}


def _destroys(node: object) -> bool:
    if isinstance(node, _DESTRUCTIVE):
        return not (isinstance(node, ast.DropStmt)
                    and node.removeType not in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_SCHEMA))
    if isinstance(node, ast.AlterTableStmt):
        return any(isinstance(c, ast.AlterTableCmd) and c.subtype == AlterTableType.AT_DropColumn
                   for c in node.cmds or ())
    return False


def _record(state: PlanState, node: object) -> None:
    """Remember what this forward statement creates, for the statements after it."""
    if isinstance(node, ast.CreateStmt):
        state.new_tables.add(bare(table_name(node.relation)))
    elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        state.new_tables.add(bare(table_name(node.into.rel)))
    elif isinstance(node, ast.IndexStmt) and node.idxname:
        state.index_tables[str(node.idxname)] = bare(table_name(node.relation))
    elif isinstance(node, ast.RenameStmt):
        t = bare(table_name(node.relation))
        if node.renameType == ObjectType.OBJECT_COLUMN:
            old, new = str(node.subname), str(node.newname)
            state.renamed_columns.add((t, old, new))
            if (t, old) in state.added_columns:
                state.added_columns.add((t, new))
        elif node.renameType == ObjectType.OBJECT_TABLE:
            state.renamed_tables.add((t, str(node.newname)))
            if t in state.new_tables:
                state.new_tables.add(str(node.newname))
    elif isinstance(node, ast.AlterTableStmt):
        t = bare(table_name(node.relation))
        for cmd in node.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd):
                continue
            if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                state.added_columns.add((t, str(cmd.def_.colname)))
            elif cmd.subtype == AlterTableType.AT_AddConstraint:
                _record_check(state, t, cmd.def_)
            elif cmd.subtype == AlterTableType.AT_ValidateConstraint:
                col = state.not_null_checks.get((t, str(cmd.name)))
                if col:
                    state.validated_not_null.add((t, col))


def _record_check(state: PlanState, table: str, con: object) -> None:
    if not isinstance(con, ast.Constraint) or con.contype != ConstrType.CONSTR_CHECK:
        return
    expr = con.raw_expr
    if (isinstance(expr, ast.NullTest) and expr.nulltesttype == NullTestType.IS_NOT_NULL
            and isinstance(expr.arg, ast.ColumnRef) and len(expr.arg.fields or ()) == 1):
        col = str(expr.arg.fields[0].sval)
        if con.conname:
            state.not_null_checks[(table, str(con.conname))] = col
        if not con.skip_validation:
            state.validated_not_null.add((table, col))
