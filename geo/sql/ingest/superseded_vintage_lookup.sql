-- Before an area-lookup batch writes: each OA11 -> OA21 link as it was (null: new).
-- Parameters: :batch_id. No geometry. Indexes: pk_area_vintage_lookup.
INSERT INTO ingest_superseded (batch_id, table_name, key, previous)
SELECT DISTINCT ON (s.oa11_code, s.oa21_code)
       :batch_id, 'area_vintage_lookup', s.oa11_code || '|' || s.oa21_code,
       CASE WHEN l.oa11_code IS NULL THEN NULL
            ELSE jsonb_build_object('change', l.change, 'district_code', l.district_code,
                                    'batch_id', l.batch_id) END
FROM ingest_stage_vintage_lookup s
LEFT JOIN area_vintage_lookup l ON l.oa11_code = s.oa11_code AND l.oa21_code = s.oa21_code
ON CONFLICT DO NOTHING
