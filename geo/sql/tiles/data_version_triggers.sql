-- Bump data_version('tiles') on every write to a table the tiles read, so the tile cache
-- (keyed by the version) never serves a tile from before a change.
-- Statement-level triggers: one UPDATE per INSERT/UPDATE/DELETE/TRUNCATE/COPY statement,
-- not per row, so bulk loads stay cheap. The bump is transactional: it becomes visible
-- exactly when the data does (a sequence would be visible before the commit and let a
-- tile of the old data be cached under the new version).
-- Parameters: none. SRIDs: none. Indexes: pk_data_version.
CREATE OR REPLACE FUNCTION wardwise_bump_tiles_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1, changed_at = now() WHERE name = 'tiles';
    RETURN NULL;
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['area', 'area_set', 'area_membership', 'address', 'service_event',
                             'site', 'road_link']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trg_%s_tiles_version ON %I', t, t);
        EXECUTE format(
            'CREATE TRIGGER trg_%s_tiles_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION wardwise_bump_tiles_version()', t, t);
    END LOOP;
END
$$;
