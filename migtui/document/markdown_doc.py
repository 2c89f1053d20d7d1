"""The filled-in template as a parsed document: its headings, lists, tables and SQL fences.

markdown-it-py turns the Markdown into tokens; ``parse`` walks them once and files every list,
table, fence and paragraph under the (h2, h3) heading it stands in, with its line number, so
the importer can look sections up by the template's headings and point at lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from migtui.document import meta
from migtui.plan import outline


@dataclass
class Doc:
    path: str
    h1: str | None = None
    h2: str | None = None
    h3: str | None = None
    seen_h2: list[str] = field(default_factory=list)
    h3_values: dict[str, str] = field(default_factory=dict)
    lists: dict[tuple[str | None, str | None], list[tuple[bool, str, int]]] = field(
        default_factory=dict)
    tables: dict[tuple[str | None, str | None], list[list[str]]] = field(default_factory=dict)
    fences: dict[tuple[str | None, str | None], tuple[str, int]] = field(default_factory=dict)
    comm: list[tuple[str, str, int]] = field(default_factory=list)  # heading, text, line
    head_meta: dict[str, Any] | None = None
    paragraphs: dict[tuple[str | None, str | None], list[str]] = field(default_factory=dict)


def parse(text: str, path: str) -> Doc:
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    doc = Doc(path)
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open":
            content = tokens[i + 1].content.strip()
            line = (t.map[0] + 1) if t.map else 0
            if t.tag == "h1":
                doc.h1 = content
            elif t.tag == "h2":
                doc.h2, doc.h3 = content, None
                doc.seen_h2.append(content)
                if ":" in content:
                    k, v = content.split(":", 1)
                    doc.h3_values[k.strip()] = v.strip()
            elif t.tag == "h3":
                doc.h3 = content
                if doc.h2 == outline.COMMUNICATION.title:
                    doc.comm.append((content, "", line))  # the body: below, from the source
                elif ":" in content:
                    k, v = content.split(":", 1)
                    doc.h3_values[k.strip()] = v.strip()
            i += 3
            continue
        key = (doc.h2, doc.h3)
        if t.type == "html_block" and doc.h2 is None:
            _, data = meta.parse_html("x " + t.content.strip())
            if data is not None:
                doc.head_meta = data
        elif t.type == "bullet_list_open":
            items, i = list_items(tokens, i)
            doc.lists.setdefault(key, []).extend(items)
            continue
        elif t.type == "table_open":
            rows, i = table_rows(tokens, i)
            doc.tables[key] = rows
            continue
        elif t.type == "fence":
            doc.fences[key] = (t.content, (t.map[0] + 2) if t.map else 0)
        elif t.type == "paragraph_open" and doc.h2 != outline.COMMUNICATION.title:
            doc.paragraphs.setdefault(key, []).append(tokens[i + 1].content)
        i += 1
    _comm_bodies(doc, text, [(tok.map[0] + 1) for tok in tokens
                             if tok.type == "heading_open" and tok.map])
    return doc


def _comm_bodies(doc: Doc, text: str, heading_lines: list[int]) -> None:
    """Each Communication Log entry's body: its source lines up to the next heading, as
    written (a paragraph, or a run's headline and its list), so it round-trips exactly."""
    lines = text.splitlines()
    for n, (heading, _body, line) in enumerate(doc.comm):
        end = min((h for h in heading_lines if h > line), default=len(lines) + 1)
        body = "\n".join(lines[line:end - 1]).strip()
        doc.comm[n] = (heading, body, line)


def following_paragraph(tokens: list[Token], i: int) -> str:
    if i < len(tokens) and tokens[i].type == "paragraph_open":
        return tokens[i + 1].content.strip()
    return ""


def list_items(tokens: list[Token], i: int) -> tuple[list[tuple[bool, str, int]], int]:
    items: list[tuple[bool, str, int]] = []
    depth = 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "bullet_list_open":
            depth += 1
        elif t.type == "bullet_list_close":
            depth -= 1
            if depth == 0:
                return items, i + 1
        elif t.type == "inline" and depth == 1:
            content = t.content
            line = (t.map[0] + 1) if t.map else 0
            m = re.match(r"^\[( |x|X)\]\s+(.*)$", content, re.S)
            if m:
                items.append((m.group(1).lower() == "x", m.group(2).strip(), line))
            else:
                items.append((False, "\0" + content.strip(), line))
        i += 1
    return items, i


def table_rows(tokens: list[Token], i: int) -> tuple[list[list[str]], int]:
    rows: list[list[str]] = []
    row: list[str] = []
    in_body = False
    while i < len(tokens):
        t = tokens[i]
        if t.type == "tbody_open":
            in_body = True
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline" and in_body:
            row.append(t.content.replace("\\|", "|").strip())
        elif t.type == "tr_close" and in_body:
            if any(c for c in row):
                rows.append(row)
        elif t.type == "table_close":
            return rows, i + 1
        i += 1
    return rows, i


def checklist(doc: Doc, h2: str, h3: str | None) -> list[Any]:
    out: list[Any] = []
    for done, text, _line in doc.lists.get((h2, h3), []):
        if text.startswith("\0"):
            continue  # a plain bullet (e.g. a lint flag), not a checkbox
        text, data = meta.parse_html(text)
        data = data or {}
        note = data.get("note")
        if note is None and " — " in text:
            text, note = text.split(" — ", 1)
        elif note is not None and " — " in text:
            text, extra = text.split(" — ", 1)
            note = extra
        item: dict[str, Any] = {"text": text.strip()}
        if done:
            item["done"] = True
        if note:
            item["note"] = note.strip()
        for k in ("id", "run"):
            if k in data:
                item[k] = data[k]
        out.append(item)
    return out


def cells(row: list[str], n: int) -> list[str]:
    return (row + [""] * n)[:n]
