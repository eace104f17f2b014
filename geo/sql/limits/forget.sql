-- Forget rate-limit windows older than their bucket's previous window (no estimate reads them).
-- Parameters: :now (bigint, epoch seconds). SRIDs: none. Indexes: none (a small table: two
-- windows per active bucket).
DELETE FROM rate_limit_window WHERE window_start + 2 * period_s <= :now
