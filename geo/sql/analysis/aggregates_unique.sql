-- Unique indexes on the profiling aggregates, so they refresh CONCURRENTLY (issue 17):
-- readers keep reading the old rows (ACCESS SHARE does not conflict with the EXCLUSIVE lock
-- a concurrent refresh takes) instead of waiting behind the ACCESS EXCLUSIVE lock of a plain
-- REFRESH. Each index covers a view's GROUP BY, so it holds every row exactly once.
-- segment_code may be NULL (no segment): NULLS NOT DISTINCT keeps those rows unique too.
-- Parameters: none. SRIDs: none. Indexes: created here.
CREATE UNIQUE INDEX IF NOT EXISTS ux_service_use_oa_segment
    ON service_use_oa_segment (service_code, classification_code, oa_code, segment_code) NULLS NOT DISTINCT;
CREATE UNIQUE INDEX IF NOT EXISTS ux_service_use_oa_segment_month
    ON service_use_oa_segment_month (service_code, classification_code, oa_code, segment_code, month, channel)
    NULLS NOT DISTINCT;
CREATE UNIQUE INDEX IF NOT EXISTS ux_household_oa_segment
    ON household_oa_segment (classification_code, oa_code, segment_code) NULLS NOT DISTINCT;
