"""Typed scalar values used in plan files: durations, thresholds and expectations.

They are written as short strings by plan authors ("30s", "+50%", "> 5%", "= 0") and
parsed into values that code can compare against measurements.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from migtui.fmt import duration_setting, quoted

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)\s*$")


# PostgreSQL's timeouts are at most 2147483647ms (about 24.8 days); no plan duration (a
# timeout, a watch, a pause) needs more, and a bound keeps every later conversion finite.
MAX_DURATION = 24 * 86400.0


def parse_duration(value: Any) -> float:
    """Seconds from "500ms", "30s", "2m", "1h", or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s or 500ms, found {value!r}")
    seconds: float | None = None
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, found {value}")
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if m:
            seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    if seconds is None:
        raise ValueError(f"expected a duration such as 30s, 500ms or 2m, found {value!r}")
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError(f"expected a duration of at most 576h (24 days), found "
                         f"{quoted(value, 40)}")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(duration_setting, return_type=str),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": _DURATION_RE.pattern}, {"type": "number"}],
         "description": "A duration: 500ms, 30s, 2m, 1h, or seconds as a number."}
    ),
]

_THRESHOLD_RE = re.compile(
    r"^\s*(?P<op>>=|>|<=|<)?\s*(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>%|ms|s)?\s*$"
)


@dataclass(frozen=True)
class Threshold:
    """A limit for a metric.

    ``relative`` thresholds (``+50%``) are measured against the metric's baseline: the
    limit is ``baseline * (1 + value/100)``. ``absolute`` thresholds (``> 5%``, ``90%``,
    ``200ms``) compare the metric directly, in the metric's own unit: percentages as
    0–100, durations in seconds.
    """

    kind: Literal["relative", "absolute"]
    value: float
    unit: Literal["%", "s", ""] = ""
    below: bool = False  # True for "< x": the metric must stay above x

    def limit(self, baseline: float | None) -> float | None:
        """The absolute limit, or None when a relative threshold has no baseline yet."""
        if self.kind == "absolute":
            return self.value
        if baseline is None:
            return None
        return baseline * (1 + self.value / 100.0)

    def breached(self, value: float, baseline: float | None) -> bool | None:
        lim = self.limit(baseline)
        if lim is None:
            return None
        return value < lim if self.below else value > lim

    def __str__(self) -> str:
        if self.kind == "relative":
            return f"+{self.value:g}%"
        op = "<" if self.below else ">"
        if self.unit == "s":
            return f"{op} {duration_setting(self.value)}"
        return f"{op} {self.value:g}{self.unit}"


def parse_threshold(value: Any) -> Threshold:
    if isinstance(value, Threshold):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a threshold such as +50%, > 5% or 200ms, found {value!r}")
    if isinstance(value, int | float):
        return Threshold("absolute", _finite(value))
    if isinstance(value, str):
        m = _THRESHOLD_RE.match(value)
        if m:
            num = _finite(m.group("num"))
            unit = m.group("unit") or ""
            below = (m.group("op") or "").startswith("<")
            if m.group("sign") == "+":
                if unit != "%":
                    raise ValueError(
                        f"a relative threshold is a percentage such as +50%, found {value!r}"
                    )
                return Threshold("relative", num)
            if m.group("sign") == "-":
                raise ValueError(f"expected a threshold such as +50% or > 5%, found {value!r}")
            if unit == "ms":
                return Threshold("absolute", num / 1000.0, "s", below)
            return Threshold("absolute", num, unit, below)  # type: ignore[arg-type]
    raise ValueError(
        f"expected a threshold such as +50% (relative to baseline), > 5%, 90% or 200ms, "
        f"found {value!r}"
    )


def _finite(value: Any) -> float:
    num = float(value)
    if not math.isfinite(num) or abs(num) > 1e15:
        raise ValueError(f"expected a finite number of at most 1e15, found {quoted(value, 40)}")
    return num


ThresholdValue = Annotated[
    Threshold,
    BeforeValidator(parse_threshold),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": _THRESHOLD_RE.pattern}, {"type": "number"}],
         "description": "+50% (relative to baseline), > 5%, 90%, 200ms, or a number."}
    ),
]

_EXPECT_RE = re.compile(r"^\s*(?P<op>=|==|!=|<>|<=|>=|<|>)?\s*(?P<rhs>.+?)\s*$", re.S)
Op = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Expectation:
    """What a verification query must return: ``= 0``, ``> 100``, or ``= @name``.

    ``@name`` refers to a value captured earlier in the run (a check step with
    ``capture: name``), e.g. a row count or checksum taken before a data migration.
    """

    op: Op
    operand: float | str
    ref: str | None = None

    def evaluate(self, actual: Any, captured: dict[str, Any] | None = None) -> bool:
        expected: Any = self.operand
        if self.ref is not None:
            captured = captured or {}
            if self.ref not in captured:
                raise KeyError(self.ref)
            expected = captured[self.ref]
        a, e = _coerce_pair(actual, expected)
        match self.op:
            case "=":
                return a == e
            case "!=":
                return a != e
            case "<":
                return a < e
            case "<=":
                return a <= e
            case ">":
                return a > e
            case ">=":
                return a >= e
        return False  # pragma: no cover

    def __str__(self) -> str:
        rhs = f"@{self.ref}" if self.ref else (
            f"{self.operand:g}" if isinstance(self.operand, float) else repr(self.operand)
        )
        return f"{self.op} {rhs}"


def _coerce_pair(a: Any, e: Any) -> tuple[Any, Any]:
    try:
        return float(a), float(e)
    except (TypeError, ValueError):
        return ("" if a is None else str(a)), ("" if e is None else str(e))


def parse_expectation(value: Any) -> Expectation:
    if isinstance(value, Expectation):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected an expectation such as '= 0' or '> 10', found {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, found {value!r}")
        return Expectation("=", float(value))
    if isinstance(value, str):
        m = _EXPECT_RE.match(value)
        if m and m.group("rhs"):
            op = m.group("op") or "="
            op = {"==": "=", "<>": "!="}.get(op, op)
            rhs = m.group("rhs")
            if rhs.startswith("@"):
                name = rhs[1:]
                if not name.isidentifier():
                    raise ValueError(f"'@' must be followed by a captured value's name, found {rhs!r}")
                return Expectation(op, "", ref=name)  # type: ignore[arg-type]
            try:
                return Expectation(op, float(rhs))  # type: ignore[arg-type]
            except ValueError:
                return Expectation(op, rhs.strip("'\""))  # type: ignore[arg-type]
    raise ValueError(f"expected an expectation such as '= 0', '> 10' or '= @before', found {value!r}")


ExpectationValue = Annotated[
    Expectation,
    BeforeValidator(parse_expectation),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "number"}],
         "description": "= 0, > 100, != 'x', or = @name for a captured value."}
    ),
]
