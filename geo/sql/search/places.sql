-- Places matching a search prefix, for the map page's "fly to": postcodes, areas by name or
-- code, streets, and addresses (UPRNs), best kinds first.
-- Parameters: :pc (compact upper-case postcode prefix, or NULL), :norm (normalised address
--   prefix as geo.text.normalise_address writes it, or NULL), :name (area name prefix, or
--   NULL), :limit.
-- SRIDs: stored 27700; output lon/lat in 4326, bbox in 4326 for areas and streets.
-- Indexes: pk_postcode (postcode_norm, prefix scan), ix_address_address_norm; area is small.
WITH
postcodes AS (
    SELECT 1 AS rank, 'postcode' AS kind, p.postcode AS label, p.oa_code AS area_code,
           p.geom, NULL::geometry AS extent, 16 AS zoom, p.postcode_norm AS sort_key
    FROM postcode p
    WHERE CAST(:pc AS text) IS NOT NULL AND p.postcode_norm LIKE CAST(:pc AS text) || '%'
    ORDER BY p.postcode_norm
    LIMIT :limit
),
areas AS (
    SELECT 2 AS rank, a.level AS kind, a.name || ' (' || a.code || ')' AS label, a.code AS area_code,
           ST_PointOnSurface(a.geom) AS geom, a.geom AS extent,
           CASE a.level WHEN 'oa' THEN 16 WHEN 'lsoa' THEN 15 WHEN 'ward' THEN 14 ELSE 12 END AS zoom,
           a.name AS sort_key
    FROM area a
    WHERE CAST(:name AS text) IS NOT NULL
      AND (a.name ILIKE CAST(:name AS text) || '%' OR a.code ILIKE CAST(:name AS text) || '%')
    ORDER BY CASE a.level WHEN 'ward' THEN 0 WHEN 'district' THEN 1 WHEN 'lsoa' THEN 2 ELSE 3 END, a.name
    LIMIT :limit
),
streets AS (
    SELECT 3 AS rank, 'street' AS kind, min(d.street) || ', ' || min(d.town) AS label,
           min(d.oa_code) AS area_code, ST_Centroid(ST_Collect(d.geom)) AS geom,
           ST_Envelope(ST_Collect(d.geom)) AS extent, 16 AS zoom, d.street_norm AS sort_key
    FROM address d
    WHERE CAST(:norm AS text) IS NOT NULL AND d.street_norm LIKE CAST(:norm AS text) || '%'
    GROUP BY d.street_norm, d.town
    ORDER BY d.street_norm
    LIMIT :limit
),
addresses AS (
    SELECT 4 AS rank, 'address' AS kind, d.address_text AS label, d.oa_code AS area_code,
           d.geom, NULL::geometry AS extent, 17 AS zoom, d.address_norm AS sort_key
    FROM address d
    WHERE CAST(:norm AS text) IS NOT NULL AND d.address_norm LIKE CAST(:norm AS text) || '%'
    ORDER BY d.address_norm
    LIMIT :limit
),
hits AS (
    SELECT * FROM postcodes UNION ALL SELECT * FROM areas
    UNION ALL SELECT * FROM streets UNION ALL SELECT * FROM addresses
)
SELECT h.kind, h.label, h.area_code, h.zoom,
       round(CAST(ST_X(ST_Transform(h.geom, 4326)) AS numeric), 6) AS lon,
       round(CAST(ST_Y(ST_Transform(h.geom, 4326)) AS numeric), 6) AS lat,
       CASE WHEN h.extent IS NULL THEN NULL ELSE ARRAY[
           round(CAST(ST_XMin(ST_Transform(h.extent, 4326)) AS numeric), 6),
           round(CAST(ST_YMin(ST_Transform(h.extent, 4326)) AS numeric), 6),
           round(CAST(ST_XMax(ST_Transform(h.extent, 4326)) AS numeric), 6),
           round(CAST(ST_YMax(ST_Transform(h.extent, 4326)) AS numeric), 6)] END AS bbox
FROM hits h
ORDER BY h.rank, h.sort_key
LIMIT :limit
