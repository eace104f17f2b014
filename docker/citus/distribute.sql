-- Distribute the Wardwise schema over the Citus cluster (docs/scaling.md, section 3).
-- On paper: run after `wardwise db migrate` once the KNOWN_GAPS of tests/test_citus_schema.py
-- are closed (district_code on every distributed table and in its keys; no materialized views
-- or triggers on distributed tables). Reference tables first, then the distributed tables,
-- all co-located on district_code.
SET citus.shard_count = 64;

SELECT create_reference_table(t) FROM unnest(ARRAY[
    'service', 'channel', 'classification', 'segment', 'area_set', 'area', 'area_membership',
    'area_segment', 'site', 'ingest_batch'
]) AS t;

SELECT create_distributed_table('address', 'district_code');
SELECT create_distributed_table(t, 'district_code', colocate_with => 'address') FROM unnest(ARRAY[
    'address_alias', 'household_segment', 'postcode', 'survey_response', 'road_node', 'road_link'
]) AS t;

-- Events: range-partitioned by month within each shard, a year ahead.
SELECT create_distributed_table('service_event', 'district_code', colocate_with => 'address');
SELECT create_time_partitions('service_event', INTERVAL '1 month', now() + INTERVAL '12 months');
