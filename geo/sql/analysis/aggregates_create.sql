-- Pre-aggregated service use for fast profiling (issue 4): primary events per output area
-- and segment, for every classification, in two grains, plus the version bookkeeping that
-- keeps a stale aggregate from ever being read.
--
-- service_use_oa_segment: (service, classification, OA, segment) over the whole period,
--   with events and distinct households (household_key). Serves unit = events or
--   households when there is no date or channel filter.
-- service_use_oa_segment_month: (service, classification, OA, segment, month, channel)
--   events. Serves unit = events with month-aligned date filters and/or a channel filter.
-- segment_code is NULL for events whose household (or OA) has no segment in that
-- classification, exactly as in analysis/service_counts_by_area_segment.sql.
--
-- Freshness: statement-level triggers bump data_version('aggregates') on every write to a
-- table the views read; refresh_aggregates() copies the version it saw before refreshing
-- into data_version('aggregates_refreshed'). Readers use the views only while the two are
-- equal, so a write since the last refresh silently sends them back to service_event.
-- Parameters: none. SRIDs: none. Indexes: created below.
CREATE MATERIALIZED VIEW service_use_oa_segment AS
SELECT e.service_code, c.code AS classification_code, e.oa_code,
       CASE WHEN c.unit = 'household' THEN hs.segment_code ELSE asg.segment_code END AS segment_code,
       count(*)::bigint AS events,
       count(DISTINCT e.household_key)::bigint AS households
FROM service_event e
CROSS JOIN classification c
LEFT JOIN household_segment hs
       ON c.unit = 'household' AND hs.uprn = e.uprn AND hs.classification_code = c.code
LEFT JOIN area_segment asg
       ON c.unit = 'area' AND asg.area_code = e.oa_code AND asg.classification_code = c.code
WHERE e.is_primary AND e.oa_code IS NOT NULL
GROUP BY 1, 2, 3, 4
WITH NO DATA;

CREATE INDEX ix_service_use_oa_segment ON service_use_oa_segment (service_code, classification_code, oa_code);

CREATE MATERIALIZED VIEW service_use_oa_segment_month AS
SELECT e.service_code, c.code AS classification_code, e.oa_code,
       CASE WHEN c.unit = 'household' THEN hs.segment_code ELSE asg.segment_code END AS segment_code,
       date_trunc('month', e.event_date)::date AS month,
       e.channel,
       count(*)::bigint AS events
FROM service_event e
CROSS JOIN classification c
LEFT JOIN household_segment hs
       ON c.unit = 'household' AND hs.uprn = e.uprn AND hs.classification_code = c.code
LEFT JOIN area_segment asg
       ON c.unit = 'area' AND asg.area_code = e.oa_code AND asg.classification_code = c.code
WHERE e.is_primary AND e.oa_code IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
WITH NO DATA;

CREATE INDEX ix_service_use_oa_segment_month
    ON service_use_oa_segment_month (service_code, classification_code, month);

INSERT INTO data_version (name, version) VALUES ('aggregates', 1), ('aggregates_refreshed', 0)
ON CONFLICT (name) DO NOTHING;

CREATE OR REPLACE FUNCTION wardwise_bump_aggregates_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1, changed_at = now() WHERE name = 'aggregates';
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['service_event', 'household_segment', 'area_segment', 'classification']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trg_%s_aggregates_version ON %I', t, t);
        EXECUTE format(
            'CREATE TRIGGER trg_%s_aggregates_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION wardwise_bump_aggregates_version()', t, t);
    END LOOP;
END
$$;
