-- Survey answers to one question per (area, segment, answer), for results with confidence
-- intervals. Segment attribution as for service events (UPRN for household
-- classifications, OA for area ones).
-- With :seed (the record-key seed of geo/disclosure.py; NULL: zeros) each cell also has its
-- key sum: sum over its responses of hashint8extended(id, :seed) & 255.
-- Parameters: :survey, :question, :classification, :level, :set_code, :within, :seed.
-- SRIDs: none. Indexes: ix_survey_response_survey_code, pk_household_segment.
WITH cls AS (
    SELECT unit FROM classification WHERE code = :classification
), r AS (
    SELECT s.id, s.oa_code, s.answer,
           CASE WHEN (SELECT unit FROM cls) = 'household' THEN hs.segment_code
                ELSE asg.segment_code END AS segment_code
    FROM survey_response s
    LEFT JOIN household_segment hs
           ON (SELECT unit FROM cls) = 'household'
          AND hs.uprn = s.uprn AND hs.classification_code = :classification
    LEFT JOIN area_segment asg
           ON (SELECT unit FROM cls) = 'area'
          AND asg.area_code = s.oa_code AND asg.classification_code = :classification
    WHERE s.survey_code = :survey AND s.question = :question AND s.oa_code IS NOT NULL
      AND (CAST(:within AS text) IS NULL OR EXISTS (
            SELECT 1 FROM area_membership w
            WHERE w.oa_code = s.oa_code AND w.area_code = CAST(:within AS text)))
)
SELECT m.area_code, r.segment_code, r.answer, count(*)::bigint AS responses,
       CASE WHEN CAST(:seed AS bigint) IS NULL THEN 0
            ELSE sum(hashint8extended(r.id, CAST(:seed AS bigint)) & 255) END::bigint AS key_sum
FROM r
JOIN area_membership m ON m.oa_code = r.oa_code AND m.level = :level
     AND (CAST(:set_code AS text) IS NULL OR m.set_code = CAST(:set_code AS text))
GROUP BY m.area_code, r.segment_code, r.answer
ORDER BY m.area_code, r.segment_code, r.answer
