-- Households per (classification, output area, segment), pre-aggregated for fast profiling
-- (issue 4; complements aggregates_create.sql). Household classifications count residential
-- addresses by their own segment (NULL when unclassified); area classifications give every
-- household its OA's segment, exactly as analysis/households_by_area_segment.sql does.
-- Writes to address and area now also bump data_version('aggregates'), so a stale count
-- is never read (see geo/analysis/aggregates.py).
-- Parameters: none. SRIDs: none. Indexes: created below.
CREATE MATERIALIZED VIEW household_oa_segment AS
SELECT c.code AS classification_code, ad.oa_code, hs.segment_code, count(*)::bigint AS households
FROM address ad
CROSS JOIN classification c
LEFT JOIN household_segment hs ON hs.uprn = ad.uprn AND hs.classification_code = c.code
WHERE c.unit = 'household' AND ad.is_residential AND ad.oa_code IS NOT NULL
GROUP BY 1, 2, 3
UNION ALL
SELECT c.code, a.code, s.segment_code, a.households::bigint
FROM area a
CROSS JOIN classification c
LEFT JOIN area_segment s ON s.area_code = a.code AND s.classification_code = c.code
WHERE c.unit = 'area' AND a.level = 'oa' AND a.households > 0
WITH NO DATA;

CREATE INDEX ix_household_oa_segment ON household_oa_segment (classification_code, oa_code);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['address', 'area']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS trg_%s_aggregates_version ON %I', t, t);
        EXECUTE format(
            'CREATE TRIGGER trg_%s_aggregates_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION wardwise_bump_aggregates_version()', t, t);
    END LOOP;
END
$$;

-- The new view starts empty: mark the aggregates stale until refresh_aggregates() runs,
-- so nothing reads an unpopulated view.
UPDATE data_version SET version = version + 1, changed_at = now() WHERE name = 'aggregates';
