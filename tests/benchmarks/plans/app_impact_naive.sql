-- The same change as app_impact.yaml, the naive way: psql -f, one statement after another.
\set ON_ERROR_STOP on
ALTER TABLE pgbench_accounts ADD COLUMN tier int;
UPDATE pgbench_accounts SET tier = aid % 5;
CREATE INDEX pgbench_accounts_tier_idx ON pgbench_accounts (tier);
ALTER TABLE pgbench_accounts ALTER COLUMN tier SET NOT NULL;
