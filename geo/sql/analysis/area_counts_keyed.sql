-- Counts per counted area (area_count summed over the periods asked for) with each count's
-- record-key sum, for cell-key perturbation of area-count services (geo/disclosure.py).
-- A partner's count has no records of ours: record i of the row for (service, area, period)
-- is keyed hashtextextended(service || ':' || area || ':' || period || ':' || i, :seed) & 255,
-- so the same counted cell always gets the same noise. Suppressed rows are left out, as in
-- area_counts_by_area_segment.sql.
-- Parameters: :service, :date_from, :date_to, :seed (bigint). SRIDs: none.
-- Indexes: ix_area_count_service_period.
SELECT c.area_code, sum(c.count)::bigint AS n,
       sum((SELECT coalesce(sum(hashtextextended(
                c.service_code || ':' || c.area_code || ':' || c.period_start || ':' || g,
                CAST(:seed AS bigint)) & 255), 0)
            FROM generate_series(1, c.count) g))::bigint AS key_sum
FROM area_count c
WHERE c.service_code = :service AND NOT c.suppressed AND c.count > 0
  AND (CAST(:date_from AS date) IS NULL OR c.period_start >= CAST(:date_from AS date))
  AND (CAST(:date_to AS date) IS NULL OR c.period_start <= CAST(:date_to AS date))
GROUP BY c.area_code
ORDER BY c.area_code
