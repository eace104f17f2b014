-- Small data versions (issue 17): one counter per (scope, district, subject) instead of one
-- global data_version row bumped by every write. A write bumps only what it touched:
--   scope 'service'   : district_code, subject = service_code   (service_event rows)
--   scope 'geography' : subject 'level:<oa|lsoa|ward|district>' or 'set:<code>' (area,
--                       area_membership, area_set rows; district_code '' except for areas)
--   scope 'table'     : subject = table name (address, site, road_link, household_segment,
--                       area_segment, classification: reference data, rarely written)
-- Statement-level AFTER triggers with transition tables: one upsert per statement, over the
-- distinct keys the statement touched, in key order (so two writers never deadlock). Two
-- ingests of different (district, service) pairs update different rows and never queue on
-- each other. The bump is transactional: a new version is visible exactly when its data is.
-- A NOTIFY on wardwise_data_version at commit tells the in-memory version watchers.
-- Parameters: none. SRIDs: none. Indexes: pk_data_version_scope.
CREATE TABLE IF NOT EXISTS data_version_scope (
    scope varchar(16) NOT NULL,
    district_code varchar(32) NOT NULL DEFAULT '',
    subject varchar(80) NOT NULL,
    version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_data_version_scope PRIMARY KEY (scope, district_code, subject)
);

-- What the aggregates were last refreshed from (see geo/analysis/aggregates.py).
CREATE TABLE IF NOT EXISTS aggregate_refresh_scope (
    scope varchar(16) NOT NULL,
    district_code varchar(32) NOT NULL DEFAULT '',
    subject varchar(80) NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT pk_aggregate_refresh_scope PRIMARY KEY (scope, district_code, subject)
);

-- Each function reads the transition table `changed` (old rows for DELETE, new rows for
-- INSERT, both for UPDATE: `changed` old and `changed_new` new) and upserts its keys.
CREATE OR REPLACE FUNCTION wardwise_scope_service_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version_scope SET version = version + 1, changed_at = now() WHERE scope = 'service';
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
        SELECT DISTINCT 'service', coalesce(district_code, ''), service_code, 1, now()
        FROM (SELECT district_code, service_code FROM changed
              UNION SELECT district_code, service_code FROM changed_new) q
        ORDER BY 2, 3
        ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    ELSE
        INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
        SELECT DISTINCT 'service', coalesce(district_code, ''), service_code, 1, now()
        FROM changed
        ORDER BY 2, 3
        ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    END IF;
    RETURN NULL;
END
$$;

-- area and area_membership: one key per geography ('level:<level>' or 'set:<code>').
CREATE OR REPLACE FUNCTION wardwise_scope_area() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version_scope SET version = version + 1, changed_at = now() WHERE scope = 'geography';
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
        SELECT DISTINCT 'geography', '',
               CASE WHEN level = 'custom' THEN 'set:' || set_code ELSE 'level:' || level END, 1, now()
        FROM (SELECT level, set_code FROM changed UNION SELECT level, set_code FROM changed_new) q
        ORDER BY 2, 3
        ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    ELSE
        INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
        SELECT DISTINCT 'geography', '',
               CASE WHEN level = 'custom' THEN 'set:' || set_code ELSE 'level:' || level END, 1, now()
        FROM changed
        ORDER BY 2, 3
        ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    END IF;
    RETURN NULL;
END
$$;

-- area_set: one key per set.
CREATE OR REPLACE FUNCTION wardwise_scope_area_set() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version_scope SET version = version + 1, changed_at = now() WHERE scope = 'geography';
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
        SELECT DISTINCT 'geography', '', 'set:' || code, 1, now()
        FROM (SELECT code FROM changed UNION SELECT code FROM changed_new) q
        ORDER BY 2, 3
        ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    ELSE
        INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
        SELECT DISTINCT 'geography', '', 'set:' || code, 1, now()
        FROM changed
        ORDER BY 2, 3
        ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    END IF;
    RETURN NULL;
END
$$;

-- Reference tables: one key per table, statement-level without transition tables.
CREATE OR REPLACE FUNCTION wardwise_scope_table() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_version_scope AS v (scope, district_code, subject, version, changed_at)
    VALUES ('table', '', TG_TABLE_NAME, 1, now())
    ON CONFLICT (scope, district_code, subject) DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION wardwise_notify_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wardwise_data_version', '');
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
    f text;
BEGIN
    -- The one-row-for-everything triggers go: they made every writer queue on one row.
    FOREACH t IN ARRAY ARRAY['area', 'area_set', 'area_membership', 'address', 'service_event',
                             'site', 'road_link']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trg_%s_tiles_version ON %I', t, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['service_event', 'household_segment', 'area_segment', 'classification',
                             'address', 'area']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trg_%s_aggregates_version ON %I', t, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['service_event', 'area', 'area_membership', 'area_set']
    LOOP
        f := CASE t WHEN 'service_event' THEN 'wardwise_scope_service_event'
                    WHEN 'area_set' THEN 'wardwise_scope_area_set'
                    ELSE 'wardwise_scope_area' END;
        EXECUTE format('CREATE TRIGGER trg_%s_scope_ins AFTER INSERT ON %I REFERENCING NEW TABLE AS changed '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t, t, f);
        EXECUTE format('CREATE TRIGGER trg_%s_scope_upd AFTER UPDATE ON %I '
                       'REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t, t, f);
        EXECUTE format('CREATE TRIGGER trg_%s_scope_del AFTER DELETE ON %I REFERENCING OLD TABLE AS changed '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t, t, f);
        EXECUTE format('CREATE TRIGGER trg_%s_scope_trunc AFTER TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %I()', t, t, f);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['address', 'site', 'road_link', 'household_segment', 'area_segment',
                             'classification']
    LOOP
        EXECUTE format('CREATE TRIGGER trg_%s_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION wardwise_scope_table()', t, t);
    END LOOP;
    CREATE TRIGGER trg_data_version_scope_notify
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON data_version_scope
        FOR EACH STATEMENT EXECUTE FUNCTION wardwise_notify_data_version();
END
$$;

-- Seed the scopes from what is loaded, so sums start from a known state.
INSERT INTO data_version_scope (scope, district_code, subject, version)
SELECT DISTINCT 'service', coalesce(district_code, ''), service_code, 1 FROM service_event
ON CONFLICT DO NOTHING;
