"""Read a plan file and its YAML into Python data with the position of every value.

Hostile input is refused with a located Problem, fast and in bounded memory:

* only regular files are read (a FIFO is never opened, /dev/zero never read), at most
  ``MAX_PLAN_BYTES``, and they must be UTF-8;
* aliases are bounded: at most ``MAX_ALIASES`` uses, reaching at most ``MAX_ALIAS_NODES``
  nodes in total (a "billion laughs" document is refused before anything is expanded),
  no recursive aliases, and at most ``MAX_DEPTH`` levels of nesting;
* scalars must be plain data: finite numbers of a sane size, text without NUL characters
  or lone surrogates (which no database or terminal can take).

YAML merge keys (``<<: *defaults``) are supported; merged values keep the line where
they were written, so errors in them point at the anchored text.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from migtui.fmt import quoted
from migtui.plan.errors import PlanError, Problem

MAX_PLAN_BYTES = 10 * 1024 * 1024  # 10 MiB
MAX_ALIASES = 10_000  # alias uses (*name and <<: *name) in one document
MAX_ALIAS_NODES = 200_000  # nodes reached through aliases, counted at every use
MAX_DEPTH = 100  # nesting levels of mappings and lists
MAX_INT = 2**53  # beyond this YAML numbers lose precision; no plan value needs more

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Loc = tuple[str | int, ...]


def read_plan_file(path: Path) -> str:
    """The text of a plan file. Raises PlanError for anything but a small UTF-8 file."""
    name = str(path)

    def fail(msg: str, line: int | None = None, col: int | None = None) -> PlanError:
        return PlanError([Problem(name, line, col, "", msg)])

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as e:
        raise fail(f"cannot read the file: {e.strerror or e}") from None
    _check_stat(st, fail)
    try:
        # O_NONBLOCK: should the path have become a FIFO since stat, open does not hang
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise fail(f"cannot read the file: {e.strerror or e}") from None
    try:
        _check_stat(os.fstat(fd), fail)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_PLAN_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_PLAN_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise fail(f"cannot read the file: {e.strerror or e}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_PLAN_BYTES:
        raise fail(_too_big(len(data)))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise fail(f"not UTF-8 text: byte 0x{data[e.start]:02x} cannot be decoded; expected "
                   f"a UTF-8 YAML plan file", line, col) from None


def _too_big(size: int) -> str:
    return (f"the plan is {'over ' if size > MAX_PLAN_BYTES else ''}{size} bytes; expected "
            f"at most {MAX_PLAN_BYTES} bytes (10 MiB)")


def _check_stat(st: os.stat_result, fail: Any) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise fail("is a directory; expected a plan file (YAML)")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "not a regular file")
        raise fail(f"is {kind}; expected a regular plan file (YAML)")
    if st.st_size > MAX_PLAN_BYTES:
        raise fail(_too_big(st.st_size))


def compose(text: str, path: str) -> yaml.Node | None:
    """The YAML node graph (aliases are shared nodes, nothing is expanded yet)."""
    if len(text) > MAX_PLAN_BYTES:
        raise PlanError([Problem(path, None, None, "", _too_big(len(text.encode("utf-8",
                                                                            "surrogatepass"))))])
    return yaml.compose(text, Loader=_LOADER)


class Positions:
    """Maps a data path to the (line, column, node) where it was written (1-based)."""

    def __init__(self) -> None:
        self.marks: dict[Loc, tuple[int, int, yaml.Node]] = {}

    def find(self, loc: Loc) -> tuple[Loc, tuple[int, int, yaml.Node] | None]:
        """The longest prefix of ``loc`` that exists in the data, and its position."""
        best: Loc = ()
        cur: Loc = ()
        for part in loc:
            nxt = (*cur, part)
            if nxt in self.marks:
                cur = nxt
                best = cur
            # union/discriminator tags in pydantic locs are not data keys: skip them
        return best, self.marks.get(best)


def _at(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def check_aliases(root: yaml.Node, path: str) -> None:
    """Refuse alias bombs, recursive aliases and deep nesting before anything is expanded."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    uses = 0
    through = 0

    def fail(where: yaml.Node, msg: str) -> PlanError:
        return PlanError([Problem(path, *_at(where), "", msg)])

    def size(node: yaml.Node, depth: int) -> int:
        nonlocal uses, through
        if depth > MAX_DEPTH:
            raise fail(node, f"nested more than {MAX_DEPTH} levels deep; expected a plan "
                             f"(a few levels of mappings and lists)")
        on_path.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [(k, c) for k, v in node.value for c in (k, v)]
        elif isinstance(node, yaml.SequenceNode):
            children = [(node, c) for c in node.value]
        else:
            children = []
        for where, child in children:
            key = id(child)
            if key in on_path:
                raise fail(where, "a recursive alias (an alias inside its own anchor); "
                                  "expected plain data")
            if key in sizes:  # a second reference to a node: an alias
                uses += 1
                through += sizes[key]
                if uses > MAX_ALIASES:
                    raise fail(where, f"more than {MAX_ALIASES} alias uses; expected at most "
                                      f"{MAX_ALIASES}")
                if through > MAX_ALIAS_NODES:
                    raise fail(where, f"aliases expand to more than {MAX_ALIAS_NODES} values "
                                      f"(an alias bomb?); expected at most {MAX_ALIAS_NODES}")
                total += sizes[key]
            else:
                total += size(child, depth + 1)
        on_path.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, 0)


class ToPython:
    """Builds plain Python data from a checked node graph, recording every position."""

    def __init__(self, path: str, pos: Positions, problems: list[Problem]) -> None:
        self.path = path
        self.pos = pos
        self.problems = problems
        self.ctor = yaml.SafeLoader("")

    def problem(self, node: yaml.Node, loc: Loc, msg: str) -> None:
        self.problems.append(Problem(self.path, *_at(node), dotted(loc), msg))

    def __call__(self, node: yaml.Node, loc: Loc = ()) -> Any:
        self.pos.marks[loc] = (*_at(node), node)
        if len(loc) > MAX_DEPTH:  # without anchors, check_aliases did not look
            self.problem(node, loc, f"nested more than {MAX_DEPTH} levels deep; expected a "
                                    f"plan (a few levels of mappings and lists)")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self(v, (*loc, i)) for i, v in enumerate(node.value)]
        return self._scalar(node, loc)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        merged, explicit = self._pairs(node, loc)
        out: dict[Any, Any] = {}
        for knode, vnode in merged:  # earlier sources win over later ones
            key = self._key(knode, loc)
            if key is not None and key not in out:
                out[key] = self._entry(knode, vnode, (*loc, key))
        seen: set[Any] = set()
        for knode, vnode in explicit:  # keys written here win over merged ones
            key = self._key(knode, loc)
            if key is None:
                continue
            if key in seen:
                self.problem(knode, (*loc, key), f"duplicate key {key!r}; each key may appear "
                                                 f"once")
            seen.add(key)
            out[key] = self._entry(knode, vnode, (*loc, key))
        return out

    def _entry(self, knode: yaml.Node, vnode: yaml.Node, loc: Loc) -> Any:
        value = self(vnode, loc)
        # point the key's own line at the key, not its value
        self.pos.marks[loc] = (*_at(knode), vnode)
        return value

    def _pairs(self, node: yaml.MappingNode, loc: Loc
               ) -> tuple[list[tuple[yaml.Node, yaml.Node]], list[tuple[yaml.Node, yaml.Node]]]:
        """(pairs merged in with '<<', pairs written in the mapping itself)."""
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        explicit: list[tuple[yaml.Node, yaml.Node]] = []
        for knode, vnode in node.value:
            if knode.tag != MERGE_TAG:
                explicit.append((knode, vnode))
                continue
            sources = (vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode])
            if not all(isinstance(s, yaml.MappingNode) for s in sources):
                self.problem(knode, (*loc, "<<"), "'<<' merges a mapping or a list of mappings "
                             "into this one, e.g. '<<: *defaults'; found "
                             f"{_kind(vnode)}")
                continue
            for src in sources:
                m, e = self._pairs(src, loc)
                merged += e + m  # a source's own keys win over what it merges itself
        return merged, explicit

    def _key(self, knode: yaml.Node, loc: Loc) -> Any:
        if not isinstance(knode, yaml.ScalarNode):
            self.problem(knode, loc, f"a key must be text or a number; found {_kind(knode)}")
            return None
        key = self._scalar(knode, loc)
        if not isinstance(key, str | int) or isinstance(key, bool):
            key = str(key)
        return key

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        if node.tag == STR_TAG and isinstance(node.value, str):  # most values: no constructor
            msg = scalar_problem(node.value)
            if msg:
                self.problem(node, loc, msg)
                return None
            return node.value
        try:
            value = self.ctor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            self.problem(node, loc, f"invalid YAML: {e.problem or e.context}")
            return None
        except (ValueError, TypeError, OverflowError) as e:
            self.problem(node, loc, f"cannot read {quoted(node.value)}: {e}")
            return None
        msg = scalar_problem(value)
        if msg:
            self.problem(node, loc, msg)
            return None
        return value


def scalar_problem(value: Any) -> str | None:
    """Why a plain YAML value cannot be plan data, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"found {value!r}, expected a finite number"
    if isinstance(value, int) and abs(value) > MAX_INT:
        return f"found {quoted(str(value))}, expected a number of at most {MAX_INT}"
    if isinstance(value, str):
        if "\0" in value:
            return (f"a NUL character (\\0) at character {value.index(chr(0)) + 1}; "
                    f"expected text without NUL")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return (f"a character that is not valid Unicode ({ascii(value[e.start])}, a lone "
                    f"surrogate) at character {e.start + 1}; expected UTF-8 text")
    return None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return quoted(str(node.value))




def dotted(loc: Loc) -> str:
    s = ""
    for part in loc:
        if isinstance(part, int):
            s += f"[{part}]"
        else:
            s += ("." if s else "") + str(part)
    return s
