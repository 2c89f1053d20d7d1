"""Live gauges: one per metric (value, baseline, alert and trigger, state, sparkline),
the lock-wait list naming blockers, and a one-line strip for narrow terminals."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Sparkline, Static

from migtui.plan.model import Metric
from migtui.sampler import GaugeState, Snapshot, basis_text, format_value, relative
from migtui.tui.model import secs, short

STATE_STYLE = {"ok": "bold green", "warn": "bold yellow", "trip": "bold white on red",
               "inactive": "dim"}
SHORT = {Metric.latency: "LAT", Metric.error_rate: "ERR", Metric.connection_pool: "POOL",
         Metric.disk: "DISK", Metric.lock_waits: "LOCK", Metric.tps: "TPS",
         Metric.smoke: "SMOKE", Metric.integrity: "INTEG", Metric.app_latency: "APP",
         Metric.blocked_by_migtui: "BLOCKED", Metric.replication_lag: "REPL",
         Metric.slot_retained: "SLOT", Metric.wal_rate: "WAL"}
ALWAYS = (Metric.latency, Metric.error_rate, Metric.connection_pool)
# shown once measured (pg_stat_statements present, a standby or a slot exists), even
# without a rule; the panel keeps their sparkline history itself
WHEN_MEASURED = (Metric.app_latency, Metric.blocked_by_migtui, Metric.replication_lag,
                 Metric.slot_retained, Metric.wal_rate)
SPARK_SAMPLES = 120

Rule = tuple[str, str, float, str]  # level, threshold, for, policy


def shown_metrics(rules: dict[Metric, list[Rule]]) -> list[Metric]:
    return [m for m in Metric if m in ALWAYS or rules.get(m)]


class ScaledSparkline(Sparkline):
    """A sparkline on a fixed scale (0 to the alert limit or the peak, whichever is larger),
    so 4% of the pool never looks full. Newest samples on the right; over the width, each
    column is the worst (max) of its bucket."""

    BARS = " ▁▂▃▄▅▆▇█"

    def __init__(self) -> None:
        super().__init__([], summary_function=max)
        self.scale_max: float | None = None

    def render(self) -> RenderResult:
        data = list(self.data or [])
        width = max(1, self.size.width)
        if not data:
            return Text("·" * width, style="dim")
        if len(data) > width:
            step = len(data) / width
            data = [max(data[int(i * step):max(int((i + 1) * step), int(i * step) + 1)])
                    for i in range(width)]
        top = max([*data, self.scale_max or 0.0]) or 1.0
        t = Text(" " * (width - len(data)), no_wrap=True)
        for v in data:
            t.append(self.BARS[min(8, max(0, round(v / top * 8)))])
        return t


class Gauge(Vertical):
    DEFAULT_CSS = """
    Gauge { height: auto; border-left: thick $success; padding: 0 0 0 1; margin: 0 0 1 0; }
    Gauge.-warn { border-left: thick $warning; }
    Gauge.-trip { border-left: thick $error; background: $error 20%; }
    Gauge.-inactive { border-left: thick $panel-lighten-2; }
    Gauge ScaledSparkline { height: 1; margin: 0 1 0 0; color: $success; }
    Gauge.-warn ScaledSparkline { color: $warning; }
    Gauge.-trip ScaledSparkline { color: $error; }
    """

    def __init__(self, metric: Metric, rules: list[Rule]) -> None:
        super().__init__(id=f"gauge-{metric.value}", classes="-ok")
        self.metric = metric
        self.rules = rules
        self.stale = ""  # "last sample 42s ago" while the connection is lost
        self._state: GaugeState | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._text(None), classes="g-text")
        yield ScaledSparkline()

    def _text(self, st: GaugeState | None) -> Text:
        """Short lines that never wrap mid-figure: name, value and state; the baseline;
        the rules. A relative rule shows the limit it stands for ("trip +50% → 20.5ms"),
        with a mark and a footnote when a floor or the baseline's noise set that limit,
        so a gauge OK at 20× its baseline says why."""
        m = self.metric
        state = st.state if st else "inactive"
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(m.label, style="bold")
        value = format_value(m, st.value) if st else "n/a"
        t.append(f"  {value}")
        t.append(f"  {state.upper()}", style=STATE_STYLE.get(state, ""))
        base = format_value(m, st.baseline) if st and st.baseline is not None else "none"
        t.append(f"\nbase {base}", style="dim")
        rules = (list(st.limits) if st and st.limits else
                 [(level, threshold, sustain, None, "")
                  for level, threshold, sustain, _p in self.rules])
        listed = [r for r in rules if r[3] is not None and relative(r[1])]  # own lines
        for i, (level, threshold, sustain, _limit, _b) in enumerate(
                r for r in rules if r not in listed):
            t.append("\n" if i == 0 else " · ", style="dim")
            self._rule(t, level, _cmp(threshold), sustain)
        notes: list[str] = []  # a footnote per reason and margin: "* … : base + 20ms"
        base_value = st.baseline if st else None
        for level, threshold, sustain, limit, basis in listed:
            t.append("\n")
            mark = ""
            if basis:
                note = basis_text(basis, m, limit, base_value)
                if note not in notes:
                    notes.append(note)
                mark = "*" * (notes.index(note) + 1)
            self._rule(t, level, f"{threshold} → {format_value(m, limit)}{mark}", sustain)
        for i, note in enumerate(notes):
            t.append(f"\n{'*' * (i + 1)} {note}", style="dim")
        if self.stale:
            t.append(f"\n{self.stale}", style="bold")
        elif st and st.note:
            t.append(f"\n{st.note}", style="dim italic")
        return t

    @staticmethod
    def _rule(t: Text, level: str, text: str, sustain: float) -> None:
        style = "yellow" if level == "warn" else "red"
        t.append(f"{level} {text}", style=style)
        if level == "trip":
            t.append(f" for {sustain:g}s", style=style)

    def refresh_text(self) -> None:
        self.query_one(".g-text", Static).update(self._text(self._state))

    def show(self, st: GaugeState, history: list[float]) -> None:
        self.set_class(st.state == "ok", "-ok")
        self.set_class(st.state == "warn", "-warn")
        self.set_class(st.state == "trip", "-trip")
        self.set_class(st.state == "inactive", "-inactive")
        self._state = st
        self.query_one(".g-text", Static).update(self._text(st))
        spark = self.query_one(ScaledSparkline)
        limits = [st.limit] if st.limit is not None else []
        spark.scale_max = max(limits) if limits else None
        spark.data = history


def _cmp(threshold: str) -> str:
    return threshold if threshold[:1] in "<>+-" else f"> {threshold}"


class LockWaitList(Static):
    DEFAULT_CSS = """
    LockWaitList { height: auto; border: round $primary-darken-3; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "Lock waits"
        self.update(Text("no lock waits", style="dim"))

    def show(self, snap: Snapshot) -> None:
        if not snap.lock_waits:
            self.update(Text("no lock waits", style="dim"))
            return
        t = Text()
        for i, w in enumerate(snap.lock_waits[:6]):
            if i:
                t.append("\n")
            t.append(f"pid {w.waiter.pid}", style="bold")
            t.append(f" ({w.waiter.application_name or '?'}) waits {secs(w.seconds)}: ")
            t.append(short(w.waiter.query, 60))
            for b in w.blockers:
                t.append("\n  ← blocked by ", style="red")
                t.append(f"pid {b.pid}", style="bold red")
                t.append(f" ({b.application_name or '?'}, {b.state or '?'}): "
                         f"{short(b.query, 50)}")
        if len(snap.lock_waits) > 6:
            t.append(f"\n… {len(snap.lock_waits) - 6} more", style="dim")
        self.update(t)


class ImpactList(Static):
    """What the run costs others: statements whose mean rose most, standbys (gone ones
    marked), replication slots and the WAL they hold back. Hidden when there is none."""

    DEFAULT_CSS = """
    ImpactList { height: auto; border: round $primary-darken-3; padding: 0 1; margin: 1 0 0 0; }
    """

    def on_mount(self) -> None:
        self.border_title = "Application and replicas"
        self.display = False

    def show(self, snap: Snapshot) -> None:
        t = Text()
        for r in snap.app_risers:
            t.append(f"{secs(r.mean_before)} → {secs(r.mean_now)}", style="bold yellow")
            t.append(f" {short(r.query or f'query {r.queryid}', 60)}\n")
        for sb in snap.standbys:
            if sb.state == "gone":
                t.append(f"standby {sb.name} GONE\n", style="bold red")
                continue
            lag = "n/a" if sb.replay_lag is None else secs(sb.replay_lag)
            behind = "" if sb.bytes_behind is None else f", {sb.bytes_behind / 1048576:.1f} MB behind"
            t.append(f"standby {sb.name} {sb.state} lag {lag}{behind}\n")
        for slot in snap.slots:
            kept = "n/a" if slot.retained is None else f"{slot.retained / 1048576:.1f} MB"
            state = "active" if slot.active else "inactive"
            t.append(f"slot {slot.name} ({slot.slot_type}, {state}) retains {kept}\n",
                     style="" if slot.active else "yellow")
        t.rstrip()
        self.display = bool(t.plain)
        self.update(t)


class GaugesPanel(VerticalScroll):
    DEFAULT_CSS = """
    GaugesPanel { width: 40; border: round $primary-darken-2; padding: 0 1; }
    GaugesPanel #gauges-status { height: auto; margin: 0 0 1 0; }
    GaugesPanel.-stale Gauge { border-left: thick $panel-lighten-2; background: $panel;
                               color: $text-disabled; }
    GaugesPanel.-stale Gauge ScaledSparkline { color: $text-disabled; }
    """

    def __init__(self, rules: dict[Metric, list[Rule]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rules = rules
        self.border_title = "Gauges"
        self._own_history: dict[Metric, deque[float]] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text("no samples yet", style="dim"), id="gauges-status")
        shown = shown_metrics(self.rules)
        for m in shown:
            yield Gauge(m, self.rules.get(m, []))
        for m in WHEN_MEASURED:
            if m not in shown:
                self._own_history[m] = deque(maxlen=SPARK_SAMPLES)
                g = Gauge(m, [])
                g.display = False
                yield g
        yield LockWaitList()
        yield ImpactList()

    def set_status(self, text: Text | str) -> None:
        self.query_one("#gauges-status", Static).update(text)

    def stale(self, lost: str, age: str) -> None:
        """The connection is lost: every gauge greyed, holding its last value, and each
        says how old that value is ("" lost: live again; "" age: no sample ever)."""
        self.set_class(bool(lost), "-stale")
        for g in self.query(Gauge):
            g.stale = ("" if not lost else f"last sample {age} ago" if age
                       else "no sample yet")
            g.refresh_text()
        if lost:
            self.set_status(Text(f"{lost}; " + (f"values are {age} old" if age
                                                 else "no value measured yet"),
                                 style="bold red"))

    def show(self, snap: Snapshot, states: dict[str, GaugeState],
             history: dict[Metric, list[float]]) -> None:
        for g in self.query(Gauge):
            st = states.get(g.metric.value)
            own = self._own_history.get(g.metric)
            if own is not None:  # shown once measured, with the panel's own history
                value = snap.metric(g.metric)
                if value is not None:
                    own.append(value)
                    g.display = True
                if st is not None and g.display:
                    g.show(st, list(own))
            elif st is not None:
                g.show(st, history.get(g.metric, []))
        self.query_one(LockWaitList).show(snap)
        self.query_one(ImpactList).show(snap)


class GaugeStrip(Static):
    """One line of gauge states, for terminals too narrow for the gauges pane."""

    DEFAULT_CSS = """
    GaugeStrip { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, metrics: list[Metric], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metrics = metrics

    def show(self, states: dict[str, GaugeState], snap: Snapshot | None,
             prefix: Text | None = None) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        if prefix is not None:
            t.append_text(prefix)
            t.append(" │ ", style="dim")
        for i, m in enumerate(self.metrics):
            st = states.get(m.value)
            if i:
                t.append(" ")
            state = st.state if st else "inactive"
            t.append(f"{SHORT[m]} {format_value(m, st.value if st else None)}",
                     style=STATE_STYLE.get(state, "") if state != "ok" else "")
            if state in ("warn", "trip"):
                t.append(f" {state.upper()}", style=STATE_STYLE[state])
        if snap is not None and snap.lock_waits:
            t.append(f" LOCKWAIT {len(snap.lock_waits)}", style="bold yellow")
        self.update(t)
