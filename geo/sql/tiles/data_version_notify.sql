-- Tell listeners (the tile servers' version watchers) that data_version changed, so a warm
-- tile is served without asking the database anything. NOTIFY is delivered at commit, so a
-- listener never learns of a version before its data is visible.
-- Statement-level, on data_version itself: every bump (the tile triggers', the profiling
-- aggregates', an ingest's) notifies once per statement; PostgreSQL folds identical
-- notifications within one transaction.
-- Parameters: none. Channel: wardwise_data_version (payload empty). Indexes: none.
CREATE OR REPLACE FUNCTION wardwise_notify_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardwise_data_version', '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS trg_data_version_notify ON data_version;
CREATE TRIGGER trg_data_version_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON data_version
    FOR EACH STATEMENT EXECUTE FUNCTION wardwise_notify_data_version();
