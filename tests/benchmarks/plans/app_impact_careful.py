"""The same change as app_impact.yaml, by a careful hand, without gauges: what a DBA who
knows the pitfalls writes. Keyset batches of 5,000 rows, each its own transaction;
CREATE INDEX CONCURRENTLY; NOT NULL through CHECK ... NOT VALID + VALIDATE; every DDL with
lock_timeout 1 s and retries (10, backoff 0.1 s doubling to 3.2 s).

    python app_impact_careful.py URL
"""

from __future__ import annotations

import sys
import time

import psycopg
from psycopg import errors

BATCH = 5000


def retrying(conn: psycopg.Connection, statement: str, tries: int = 10) -> None:
    delay = 0.1
    for attempt in range(tries + 1):
        try:
            conn.execute(statement)
            return
        except errors.LockNotAvailable:
            if attempt == tries:
                raise
            time.sleep(delay)
            delay = min(3.2, delay * 2)


def main(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SET lock_timeout = '1s'")
        retrying(c, "ALTER TABLE pgbench_accounts ADD COLUMN tier int")
        row = c.execute("SELECT max(aid) FROM pgbench_accounts").fetchone()
        hi, last = row[0] if row else None, 0
        while hi is not None and last < hi:
            row = c.execute("SELECT max(aid) FROM (SELECT aid FROM pgbench_accounts "
                            "WHERE aid > %s ORDER BY aid LIMIT %s) s", (last, BATCH)).fetchone()
            upper = row[0] if row else None
            if upper is None:
                break
            c.execute("UPDATE pgbench_accounts SET tier = aid %% 5 WHERE aid > %s "
                      "AND aid <= %s AND tier IS NULL", (last, upper))
            last = upper
        retrying(c, "CREATE INDEX CONCURRENTLY pgbench_accounts_tier_idx "
                    "ON pgbench_accounts (tier)")
        retrying(c, "ALTER TABLE pgbench_accounts ADD CONSTRAINT pgbench_accounts_tier_nn "
                    "CHECK (tier IS NOT NULL) NOT VALID")
        retrying(c, "ALTER TABLE pgbench_accounts VALIDATE CONSTRAINT pgbench_accounts_tier_nn")
        retrying(c, "ALTER TABLE pgbench_accounts ALTER COLUMN tier SET NOT NULL")
        retrying(c, "ALTER TABLE pgbench_accounts DROP CONSTRAINT pgbench_accounts_tier_nn")


if __name__ == "__main__":
    main(sys.argv[1])
