-- What a counts service holds, for an answer's meta: rows, suppressed rows and their
-- bounds, the counted total, and the count on areas with no households (not apportionable).
-- Parameters: :service, :date_from, :date_to. SRIDs: none.
-- Indexes: ix_area_count_service_period, pk_area.
WITH c AS (
    SELECT c.*, a.level,
           (SELECT coalesce(sum(o.households), 0) FROM area_membership m
            JOIN area o ON o.code = m.oa_code AND o.level = 'oa'
            WHERE m.area_code = c.area_code) AS households
    FROM area_count c JOIN area a ON a.code = c.area_code
    WHERE c.service_code = :service
      AND (CAST(:date_from AS date) IS NULL OR c.period_start >= CAST(:date_from AS date))
      AND (CAST(:date_to AS date) IS NULL OR c.period_start <= CAST(:date_to AS date))
)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE suppressed) AS suppressed_rows,
       coalesce(sum(count), 0) AS counted,
       coalesce(sum(count_max) FILTER (WHERE suppressed), 0) AS suppressed_max,
       count(*) FILTER (WHERE suppressed) AS suppressed_min,
       coalesce(sum(count) FILTER (WHERE households = 0), 0) AS unapportioned,
       array_agg(DISTINCT level) AS levels,
       min(period_start) AS period_from, max(period_start) AS period_to
FROM c
