-- Households within a straight-line walk of each stop (all, and of the target segments).
-- Parameters: :xs, :ys (float8[], stops in 27700 metres), :walk_m (metres),
--   :classification, :segments (text[] or NULL = any segment).
-- SRIDs: stops built in 27700 to match address.geom; distances in metres.
-- Indexes: ix_address_geom (GiST, ST_DWithin), pk_household_segment.
WITH stops AS (
    SELECT ord, ST_SetSRID(ST_MakePoint(x, y), 27700) AS g
    FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS s(x, y, ord)
), reach AS (
    SELECT s.ord, ad.uprn,
           (CAST(:segments AS text[]) IS NULL OR hs.segment_code = ANY(CAST(:segments AS text[]))) AS target
    FROM stops s
    JOIN address ad ON ad.is_residential AND ST_DWithin(ad.geom, s.g, :walk_m)
    LEFT JOIN household_segment hs
           ON hs.uprn = ad.uprn AND hs.classification_code = :classification
)
SELECT s.ord,
       count(r.uprn) AS households,
       count(r.uprn) FILTER (WHERE r.target) AS target_households
FROM stops s
LEFT JOIN reach r ON r.ord = s.ord
GROUP BY s.ord
UNION ALL
-- ord 0: distinct households reached by any stop (a household near two stops counts once)
SELECT 0, count(DISTINCT uprn), count(DISTINCT uprn) FILTER (WHERE target) FROM reach
ORDER BY 1
