-- A cheap fingerprint of the road network, the cache key of the in-memory travel graph.
-- data_version counters are bumped by writes; link count and id range catch a reload that
-- did not bump them.
-- Parameters: none.  SRIDs: none.  Indexes: pk_road_link (count/min/max), pk_data_version.
SELECT concat_ws(':',
    (SELECT string_agg(name || '=' || version, ',' ORDER BY name) FROM data_version),
    (SELECT count(*) FROM road_link), (SELECT min(id) FROM road_link), (SELECT max(id) FROM road_link),
    (SELECT sum(cost_s)::bigint FROM road_link)
) AS fingerprint
