"""migtui.rehearsal.diff: what a rollback failed to restore, one readable line per finding.

Fingerprints are read from a real database before and after a change, except where a
fingerprint is built by hand to pin down one rule of the comparison.
"""

from __future__ import annotations

import psycopg
import pytest

from migtui.rehearsal import fingerprint as fpr
from migtui.rehearsal.diff import Difference, compare, compare_data, failures, short
from migtui.rehearsal.fingerprint import Fingerprint, TableData

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, balance int DEFAULT 0);
CREATE TABLE audit (id int PRIMARY KEY, account_id int REFERENCES accounts (id), note text);
CREATE INDEX audit_account_idx ON audit (account_id);
INSERT INTO accounts SELECT g, 'u' || g || '@example.com', g FROM generate_series(1, 50) g;
INSERT INTO audit SELECT g, g, 'n' FROM generate_series(1, 20) g;
"""


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(SCHEMA)
        yield c


def texts(diffs: list[Difference]) -> list[str]:
    return [d.text for d in diffs]


def test_identical_fingerprints_have_no_difference(conn: psycopg.Connection) -> None:
    before = fpr.take(conn, ["public.accounts", "public.audit"])
    after = fpr.take(conn, ["public.accounts", "public.audit"])
    assert compare(before, after) == []


def test_a_dropped_table_is_one_finding_not_one_per_column_index_or_constraint(
        conn: psycopg.Connection) -> None:
    before = fpr.take(conn, ["public.accounts"])
    conn.execute("DROP TABLE audit")
    after = fpr.take(conn, ["public.accounts"])
    diffs = compare(before, after)
    assert texts(diffs) == ["table audit missing (was present)"]
    assert diffs[0].category == "table" and diffs[0].name == "audit"
    assert failures(diffs) == diffs


def test_an_invalid_index_left_by_a_failed_concurrent_build(conn: psycopg.Connection) -> None:
    conn.execute("CREATE UNIQUE INDEX CONCURRENTLY accounts_balance_key ON accounts (balance)")
    before = fpr.take(conn)
    conn.execute("DROP INDEX accounts_balance_key")
    conn.execute("UPDATE accounts SET balance = 1 WHERE id = 2")  # a duplicate: the build fails
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY accounts_balance_key ON accounts (balance)")
    after = fpr.take(conn)
    found = texts(compare(before, after))
    assert "index accounts_balance_key is INVALID (was valid)" in found
    assert not any("column" in t for t in found)


def test_a_changed_column_type_and_a_new_column(conn: psycopg.Connection) -> None:
    before = fpr.take(conn)
    conn.execute("ALTER TABLE accounts ALTER COLUMN balance TYPE bigint")
    conn.execute("ALTER TABLE accounts ADD COLUMN tier smallint")
    found = texts(compare(before, fpr.take(conn)))
    assert "column accounts.balance: type integer → bigint" in found
    assert "column accounts.tier still present" in found


def test_same_row_count_but_other_data_is_a_checksum_difference(conn: psycopg.Connection) -> None:
    before = fpr.take(conn, ["public.accounts"])
    conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 7")
    after = fpr.take(conn, ["public.accounts"])
    (diff,) = compare(before, after)
    b, a = before.data["public.accounts"], after.data["public.accounts"]
    assert b.rows == a.rows == 50 and b.checksum != a.checksum
    assert diff.category == "data" and diff.name == "accounts"
    assert diff.text == f"table accounts: data checksum differs ({b.checksum} → {a.checksum})"
    assert not diff.advisory


def test_data_differences_under_traffic_are_advisory_and_not_failures(
        conn: psycopg.Connection) -> None:
    before = fpr.take(conn, ["public.audit"])
    conn.execute("DELETE FROM audit WHERE id = 20")
    conn.execute("CREATE INDEX audit_note_idx ON audit (note)")
    after = fpr.take(conn, ["public.audit"])
    diffs = compare(before, after, data_advisory="traffic wrote to the tables")
    assert "table audit: 1 row fewer (20 → 19) (traffic wrote to the tables)" in texts(diffs)
    data = [d for d in diffs if d.category == "data"]
    assert data and all(d.advisory for d in data)
    assert texts(failures(diffs)) == ["index audit_note_idx still present"]


def test_a_table_only_in_one_fingerprints_data_is_left_to_the_schema_comparison() -> None:
    before = Fingerprint(data={"public.t": TableData(3, "a" * 16)})
    after = Fingerprint(data={"public.u": TableData(3, "b" * 16)})
    assert compare_data(before, after) == []


def test_rows_more_is_counted_and_pluralised() -> None:
    before = Fingerprint(data={"app.t": TableData(1, "0" * 16)})
    after = Fingerprint(data={"app.t": TableData(3, "1" * 16)})
    (d,) = compare_data(before, after)
    assert d.text == "table app.t: 2 rows more (1 → 3)"  # another schema keeps its prefix
    assert d.to_dict() == {"category": "data", "name": "app.t", "text": d.text,
                           "advisory": False}


def test_attribute_values_read_plainly() -> None:
    long = "x " * 100
    before = Fingerprint(objects={"sequence": {"public.s": {"cycle": False, "owned by": None,
                                                            "definition": "a"}}})
    after = Fingerprint(objects={"sequence": {"public.s": {"cycle": True,
                                                           "owned by": "public.t.id",
                                                           "definition": long}}})
    found = texts(compare(before, after))
    assert "sequence s: cycle no → yes" in found
    assert "sequence s: owned by none → public.t.id" in found
    (defn,) = [t for t in found if "definition" in t]
    assert defn.endswith("…") and len(defn.split("→ ")[1]) == 120


def test_short_drops_only_the_public_schema() -> None:
    assert short("public.orders") == "orders"
    assert short("billing.orders") == "billing.orders"
    assert short("publicity.x") == "publicity.x"
