"""Machine-readable annotations that ride along in the Markdown, invisibly.

The exported document is for people; the ``<!-- migtui: {...} -->`` comments (and
``-- migtui: {...}`` lines in SQL blocks) carry what the template has no column for
(bindings, metrics, settings), so export → import → export is lossless. A hand-filled
template without them still imports: its items are manual and its SQL is one step.
"""

from __future__ import annotations

import json
from typing import Any

HTML_PREFIX = "<!-- migtui: "
HTML_SUFFIX = " -->"
SQL_PREFIX = "-- migtui: "


def html(data: dict[str, Any]) -> str:
    return HTML_PREFIX + _dump(data) + HTML_SUFFIX


def sql(data: dict[str, Any]) -> str:
    return SQL_PREFIX + _dump(data)


def _dump(data: dict[str, Any]) -> str:
    # "--" inside an HTML comment ends it in some renderers; JSON never needs it raw
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).replace(
        "--", "\\u002d\\u002d")


def parse_html(text: str) -> tuple[str, dict[str, Any] | None]:
    """Split ``text <!-- migtui: {...} -->`` into the text and the data."""
    i = text.rfind(HTML_PREFIX)
    if i < 0 or not text.rstrip().endswith(HTML_SUFFIX.strip()):
        return text, None
    raw = text[i + len(HTML_PREFIX):].rstrip()
    raw = raw[: -len(HTML_SUFFIX.strip())].strip()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return text, None
    return text[:i].rstrip(), data if isinstance(data, dict) else None


def parse_sql_comment(comment: str) -> dict[str, Any] | None:
    c = comment.strip()
    if not c.startswith(SQL_PREFIX.strip()):
        return None
    try:
        data = json.loads(c[len(SQL_PREFIX.strip()):].strip())
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
