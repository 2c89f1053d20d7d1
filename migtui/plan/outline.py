"""The migration-plan template's outline: its sections (H2) and subsections (H3) in order,
each with where it lives in a plan, and the columns of its tables.

One source for the export (which writes these headings), the importer (which looks
sections up by them) and the app (whose section list follows them); a test holds it to
the template's own copy, docs/migration-plan-template.md.
"""

from __future__ import annotations

from dataclasses import dataclass

TITLE = "Database Migration & Schema Change Plan"
# the H2 and H3s of the head: "## Current Session: <date>", "### Migration Type: <type>", ...
SESSION = "Current Session"
MIGRATION_TYPE = "Migration Type"
AGENT = "Database Agent"


@dataclass(frozen=True)
class Sub:
    """An H3: its heading, its key in a plan, and a table's columns."""

    title: str
    key: str  # dotted path in a plan, e.g. "zero_downtime.application_compatibility"
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """An H2: its heading, its key in the app, its short label there, and its H3s."""

    title: str
    key: str  # the app's section key
    label: str  # the app's short name for it
    subs: tuple[Sub, ...] = ()
    columns: tuple[str, ...] = ()  # a table straight under the H2
    checklist: str | None = None  # a checklist straight under the H2: its key in a plan

    def sub(self, key: str) -> Sub:
        """The H3 whose plan key ends with ``key`` (``"new_tables"``, ``"staging"``)."""
        for s in self.subs:
            if s.key == key or s.key.endswith("." + key):
                return s
        raise KeyError(f"{self.title} has no subsection {key!r}")

    @property
    def checklists(self) -> tuple[str, ...]:
        """The plan keys of the checklists in this section (phases aside)."""
        own = (self.checklist,) if self.checklist else ()
        return own + tuple(s.key for s in self.subs if not s.columns and s.key in CHECKLISTS)


def phase_title(number: int, name: str) -> str:
    """A phase's H3 under Migration Strategy: ``Phase 2: Execution``."""
    return f"Phase {number}: {name}"


def entry_title(at: str, author: str) -> str:
    """A Communication Log entry's H3: ``<time> - <author>``."""
    return f"{at} - {author}"


OVERVIEW = Section("Migration Overview", "overview", "Overview", checklist="overview")
SCHEMA = Section("Schema Changes", "schema", "Schema Changes", (
    Sub("Tables to Modify", "schema_changes.tables_to_modify",
        ("Table", "Change Type", "Description", "Risk Level")),
    Sub("New Tables", "schema_changes.new_tables",
        ("Table Name", "Purpose", "Relationships", "Indexes Required")),
    Sub("Fields to Add/Modify/Remove", "schema_changes.fields",
        ("Table", "Field", "Action", "Type", "Default Value")),
))
STRATEGY = Section("Migration Strategy", "phases", "Phases")  # H3s: phase_title(i, name)
SCRIPTS = Section("Prisma Migration Scripts", "steps", "Steps", (
    Sub("Migration File", "steps"),
    Sub("Rollback Script", "steps.rollback"),
))
ZERO_DOWNTIME = Section("Zero-Downtime Considerations", "zero_downtime", "Zero Downtime", (
    Sub("Application Compatibility", "zero_downtime.application_compatibility"),
    Sub("Database Performance", "zero_downtime.database_performance"),
))
DATA_MIGRATION = Section("Data Migration Requirements", "data_migration", "Data Migration", (
    Sub("Data to Migrate", "data_migration.data",
        ("Source", "Destination", "Transformation Required", "Volume")),
    Sub("Data Validation", "data_migration.validation"),
))
RISKS = Section("Risk Assessment", "risks", "Risks & Triggers", (
    Sub("High Risk Areas", "risks.high_risk_areas",
        ("Risk", "Impact", "Probability", "Mitigation Strategy")),
    Sub("Rollback Triggers", "risks.rollback_triggers"),
))
TESTING = Section("Testing Plan", "testing", "Testing", (
    Sub("Staging Environment", "testing.staging"),
    Sub("Production Readiness", "testing.production_readiness"),
))
CODE_CHANGES = Section("Application Code Changes", "code_changes", "Code Changes", (
    Sub("Backend Updates Required", "code_changes.backend",
        ("File", "Change Type", "Description", "Testing Status")),
    Sub("Frontend Updates Required", "code_changes.frontend",
        ("Component", "Change Type", "Description", "Testing Status")),
))
MONITORING = Section("Monitoring & Alerts", "monitoring", "Monitoring", (
    Sub("Key Metrics to Monitor", "monitoring.metrics",
        ("Metric", "Baseline", "Alert Threshold", "Recovery Action")),
))
DOCUMENTATION = Section("Documentation Updates", "documentation", "Documentation",
                        checklist="documentation")
TIMELINE = Section("Timeline", "timeline", "Timeline",
                   columns=("Phase", "Duration", "Dependencies", "Completion Criteria"))
COMMUNICATION = Section("Communication Log", "communication", "Communication")

# every section after the head, in the template's order
SECTIONS: tuple[Section, ...] = (
    OVERVIEW, SCHEMA, STRATEGY, SCRIPTS, ZERO_DOWNTIME, DATA_MIGRATION, RISKS, TESTING,
    CODE_CHANGES, MONITORING, DOCUMENTATION, TIMELINE, COMMUNICATION,
)
# the checklists' keys in a plan (ticks are journaled under them), phases aside
CHECKLISTS = ("overview", "zero_downtime.application_compatibility",
              "zero_downtime.database_performance", "data_migration.validation",
              "testing.staging", "testing.production_readiness", "documentation")


def section(title: str) -> Section:
    """The section headed ``title``."""
    for s in SECTIONS:
        if s.title == title:
            return s
    raise KeyError(title)


def checklist_title(key: str) -> str:
    """The heading over the checklist at ``key`` in a plan (phases aside)."""
    for s in SECTIONS:
        if s.checklist == key:
            return s.title
        for sub in s.subs:
            if sub.key == key:
                return sub.title
    raise KeyError(key)
