-- Postcode centroids with their output area, for the ladder's postcode step.
-- Parameters: none. SRID: x, y are EPSG:27700 metres. Indexes: none (full scan).
SELECT postcode_norm, oa_code, ST_X(geom) AS x, ST_Y(geom) AS y FROM postcode
