-- Gazetteer addresses for in-memory matching (geo.matching.gazetteer.load_gazetteer).
-- Parameters: none. SRID: x, y are EPSG:27700 metres (address.geom's storage SRID).
-- Indexes: none needed (full scan, once per batch).
SELECT a.uprn, a.saon, a.paon, a.street, a.locality, a.town, a.postcode_norm, a.oa_code,
       ST_X(a.geom) AS x, ST_Y(a.geom) AS y
FROM address a
