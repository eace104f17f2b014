-- Residential addresses (households) with their output area and whether they belong to
-- the target segments, for walking catchments of van stops.
-- Parameters: :classification, :segments (text[] or NULL = every household).
-- SRIDs: address.geom 27700; x, y in metres.
-- Indexes: ix_address_residential / seq scan (every household is wanted), pk_household_segment.
SELECT ad.uprn, ad.oa_code, ST_X(ad.geom) AS x, ST_Y(ad.geom) AS y, hs.segment_code,
       (CAST(:segments AS text[]) IS NULL OR hs.segment_code = ANY(CAST(:segments AS text[]))) AS target
FROM address ad
LEFT JOIN household_segment hs ON hs.uprn = ad.uprn AND hs.classification_code = :classification
WHERE ad.is_residential
ORDER BY ad.uprn
