-- Gazetteer addresses (and their aliases) from the staged batch, replacing earlier values.
-- Parameters: none (reads the session's staging table). SRID: x, y are EPSG:27700.
-- Indexes: pk_address for ON CONFLICT; ix_address_alias_uprn.
WITH upserted AS (
    INSERT INTO address (uprn, address_text, address_norm, saon, paon, street, street_norm, locality,
                         town, postcode, postcode_norm, is_residential, oa_code, geom)
    SELECT uprn, address_text, address_norm, saon, paon, street, street_norm, locality, town,
           postcode, postcode_norm, is_residential, oa_code, ST_SetSRID(ST_MakePoint(x, y), 27700)
    FROM ingest_stage_gazetteer
        ON CONFLICT (uprn) DO UPDATE
    SET address_text = EXCLUDED.address_text, address_norm = EXCLUDED.address_norm,
        saon = EXCLUDED.saon, paon = EXCLUDED.paon, street = EXCLUDED.street,
        street_norm = EXCLUDED.street_norm, locality = EXCLUDED.locality, town = EXCLUDED.town,
        postcode = EXCLUDED.postcode, postcode_norm = EXCLUDED.postcode_norm,
        is_residential = EXCLUDED.is_residential, oa_code = EXCLUDED.oa_code, geom = EXCLUDED.geom,
        -- a moved address loses its stored H3 cell (geo.analysis.h3cells fills it again)
        h3_cells = CASE WHEN address.geom IS NOT DISTINCT FROM EXCLUDED.geom THEN address.h3_cells END
    RETURNING uprn
)
INSERT INTO address_alias (uprn, alias_text, alias_norm)
SELECT s.uprn, s.alias,
       upper(regexp_replace(regexp_replace(s.alias || ' ' || coalesce(s.postcode_norm, ''), '[^A-Za-z0-9 ]+', ' ', 'g'), '\s+', ' ', 'g'))
FROM ingest_stage_gazetteer s
JOIN upserted u ON u.uprn = s.uprn
WHERE s.alias IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM address_alias x WHERE x.uprn = s.uprn AND x.alias_text = s.alias)
