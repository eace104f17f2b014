-- Before a postcodes batch writes: each postcode as it was (null: new), geometry as EWKB hex.
-- Parameters: :batch_id. SRID: EPSG:27700 kept in the EWKB. Indexes: pk_postcode.
INSERT INTO ingest_superseded (batch_id, table_name, key, previous)
SELECT DISTINCT ON (s.postcode_norm)
       :batch_id, 'postcode', s.postcode_norm,
       CASE WHEN p.postcode_norm IS NULL THEN NULL
            ELSE jsonb_build_object('postcode', p.postcode, 'oa_code', p.oa_code,
                                    'district_code', p.district_code,
                                    'geom', encode(ST_AsEWKB(p.geom), 'hex')) END
FROM ingest_stage_postcodes s
LEFT JOIN postcode p ON p.postcode_norm = s.postcode_norm
ON CONFLICT DO NOTHING
