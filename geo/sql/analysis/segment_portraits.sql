-- Segment names and preferred channels and media of one classification, for targeting.
-- Parameters: :classification. SRIDs: none. Indexes: pk_segment.
SELECT code AS segment_code, name, preferred_channels, preferred_media, key_issues
FROM segment
WHERE classification_code = :classification
ORDER BY sort_order, code
