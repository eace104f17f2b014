-- Addresses with a point but no stored H3 cell yet (new, or moved since), in WGS84.
-- Parameters: none. SRIDs: address.geom 27700 -> lng/lat 4326 (H3 works on WGS84).
-- Indexes: ix_address_h3_missing (partial: only such rows).
SELECT uprn, ST_X(g) AS lng, ST_Y(g) AS lat
FROM (SELECT uprn, ST_Transform(geom, 4326) AS g FROM address
      WHERE h3_cells IS NULL AND geom IS NOT NULL) s
