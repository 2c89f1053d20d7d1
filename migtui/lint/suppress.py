"""Suppressions: a step's ``lint_ignore`` and inline ``-- migtui: ignore RULE because WHY``.

Inline comments are found with pglast's scanner, so a comment-like text inside a string
or a dollar-quoted body is never taken for one. A comment applies to the statement it sits
in, to the statement that ends on its line (a trailing comment), or else to the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import parser

from migtui.sql import Statement

MARKER = "migtui:"


@dataclass(frozen=True)
class InlineIgnore:
    rules: tuple[str, ...]
    reason: str  # "" when the comment gives none
    line: int  # 1-based line of the comment within the SQL
    text: str  # the comment itself
    statement: int | None  # index of the statement it applies to


def _body(comment: str) -> str:
    if comment.startswith("--"):
        return comment[2:].strip()
    if comment.startswith("/*"):
        return comment[2:].removesuffix("*/").strip()
    return comment.strip()


def parse_comment(comment: str) -> tuple[tuple[str, ...], str] | None:
    """('rule-a', 'rule-b'), 'reason' from 'migtui: ignore rule-a, rule-b because reason'."""
    body = _body(comment)
    if not body.lower().startswith(MARKER):
        return None
    words = body[len(MARKER):].split()
    if not words or words[0].lower() != "ignore":
        return None
    rules: list[str] = []
    reason_words: list[str] = []
    for i, w in enumerate(words[1:], 1):
        if w.lower() == "because":
            reason_words = words[i + 1:]
            break
        rules += [r for r in w.split(",") if r]
    return tuple(rules), " ".join(reason_words).strip()


def inline_ignores(sql: str, statements: list[Statement]) -> list[InlineIgnore]:
    try:
        tokens = parser.scan(sql)
    except parser.ParseError:
        return []
    out: list[InlineIgnore] = []
    for tok in tokens:
        if tok.name not in ("SQL_COMMENT", "C_COMMENT"):
            continue
        text = sql[tok.start:tok.end + 1]
        parsed = parse_comment(text)
        if parsed is None:
            continue
        rules, reason = parsed
        line = sql.count("\n", 0, tok.start) + 1
        out.append(InlineIgnore(rules, reason, line, text.strip(),
                                _target(sql, statements, tok.start, line)))
    return out


def _target(sql: str, statements: list[Statement], offset: int, line: int) -> int | None:
    for i, st in enumerate(statements):
        if st.offset <= offset < st.offset + len(st.text):
            return i
    for i, st in reversed(list(enumerate(statements))):
        end = st.offset + len(st.text)
        if end <= offset and sql.count("\n", 0, max(end - 1, 0)) + 1 == line:
            return i
    for i, st in enumerate(statements):
        if st.offset > offset:
            return i
    return None
