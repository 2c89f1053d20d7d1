"""The fleet file's typed model: who the members are, in which waves, how fast, and what
to do when a member fails. Validated by ``migtui.fleet.loader`` with located errors."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from migtui.plan.values import Duration

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Source(Strict):
    """Where a connection string comes from: written out, or an environment variable."""

    dsn: str | None = Field(None, description="A connection string (URL or libpq keywords). "
                                              "Prisma's ?schema=NAME is accepted.")
    dsn_env: str | None = Field(None, description="The environment variable holding it.")

    @model_validator(mode="after")
    def _one(self) -> Source:
        if (self.dsn is None) == (self.dsn_env is None):
            raise ValueError("expected exactly one of 'dsn' or 'dsn_env'")
        return self


class ExplicitMember(Source):
    name: str | None = Field(None, description="The member's name (default: its database, "
                                               "with '/schema' for a schema target).")


class Discover(Source):
    """The databases of one server whose names match a LIKE pattern (from pg_database)."""

    pattern: str = Field(description="A LIKE pattern on pg_database.datname, e.g. tenant_%.")
    exclude: list[str] = Field(default_factory=list, description="Database names to leave out.")


class Schemas(Source):
    """The tenant schemas of one database (from pg_namespace), each a member run with its
    own search_path."""

    pattern: str = Field(description="A LIKE pattern on the schema name, e.g. tenant_%.")
    exclude: list[str] = Field(default_factory=list, description="Schema names to leave out.")


class Members(Strict):
    explicit: list[ExplicitMember] = Field(
        default_factory=list, alias="list",
        description="Members written out: each a dsn or dsn_env, with an optional name.")
    discover: list[Discover] = Field(default_factory=list,
                                     description="Databases discovered on servers.")
    schemas: list[Schemas] = Field(default_factory=list,
                                   description="Tenant schemas discovered in databases.")

    @model_validator(mode="after")
    def _some(self) -> Members:
        if not (self.explicit or self.discover or self.schemas):
            raise ValueError("expected at least one of 'list', 'discover' or 'schemas'")
        return self


WaveSize = Annotated[
    int | str | list[str],
    Field(description="A count (1), a share of the fleet ('10%'), 'rest', or a list of "
                      "member names.")]


class FailurePolicy(StrEnum):
    stop = "stop"  # stop the rollout; leave the failed member as it is
    rollback_member = "rollback_member"  # stop, and roll back the failed member(s)
    rollback_wave = "rollback_wave"  # stop, and roll back every member of the wave


class Concurrency(Strict):
    overall: int = Field(4, ge=1, le=256, description="Members applied at once, all workers.")
    per_server: int | None = Field(None, ge=1, le=256,
                                   description="Members applied at once on one server.")


class Gate(Strict):
    soak: Duration = Field(0.0, description="After a wave finished with no trip, watch its "
                                            "gauges this long before the next wave.")


class Workers(Strict):
    heartbeat: Duration = Field(2.0, description="How often a worker heartbeats and polls.")
    timeout: Duration = Field(30.0, description="A worker silent this long is presumed dead: "
                                                "another takes over its members.")


class Fleet(Strict):
    fleet: Literal[1] = Field(description="Fleet file format version.")
    name: str = Field(description="The fleet's name; with the plan id, it names the rollout.")
    control: Source | None = Field(
        None, description="The control database holding the rollout's state (default: the "
                          "first member's database).")
    members: Members
    waves: list[WaveSize] = Field(default_factory=lambda: ["rest"], min_length=1)
    concurrency: Concurrency = Field(default_factory=Concurrency)
    gate: Gate = Field(default_factory=Gate)
    on_failure: FailurePolicy = Field(FailurePolicy.stop)
    workers: Workers = Field(default_factory=Workers)

    @field_validator("waves")
    @classmethod
    def _waves(cls, waves: list[int | str | list[str]]) -> list[int | str | list[str]]:
        for i, w in enumerate(waves):
            if isinstance(w, bool):
                raise ValueError(f"waves[{i}]: expected a count, a percentage, 'rest' or a list "
                                 f"of member names, found {w!r}")
            if isinstance(w, int) and w < 1:
                raise ValueError(f"waves[{i}]: a wave needs at least 1 member, found {w}")
            if isinstance(w, str) and w != "rest":
                m = _PERCENT.match(w)
                if not m or not 0 < float(m.group(1)) <= 100:
                    raise ValueError(f"waves[{i}]: expected a count, a percentage such as "
                                     f"'10%', or 'rest', found {w!r}")
            if w == "rest" and i != len(waves) - 1:
                raise ValueError(f"waves[{i}]: 'rest' must be the last wave")
        return waves


def percent(w: str) -> float | None:
    m = _PERCENT.match(w)
    return float(m.group(1)) if m else None
