-- A cheap fingerprint of everything the in-memory gazetteer is built from: counts and
-- checksums of addresses, aliases, postcodes and OA memberships. Parameters: none.
-- Full scans of narrow columns (about 20 ms for 120,000 addresses); no geometry.
SELECT (SELECT count(*) FROM address) AS addresses,
       (SELECT coalesce(sum(hashtext(address_norm || coalesce(oa_code, '') || ST_AsText(geom))), 0) FROM address) AS address_sum,
       (SELECT count(*) FROM address_alias) AS aliases,
       (SELECT coalesce(sum(hashtext(alias_text)), 0) FROM address_alias) AS alias_sum,
       (SELECT count(*) FROM postcode) AS postcodes,
       (SELECT coalesce(sum(hashtext(postcode_norm || coalesce(oa_code, ''))), 0) FROM postcode) AS postcode_sum,
       (SELECT count(*) FROM area_membership) AS memberships,
       (SELECT coalesce(sum(hashtext(oa_code || area_code)), 0) FROM area_membership) AS membership_sum
