-- Create a classification and one of its segments if they do not exist yet.
-- Parameters: :cls, :cls_name, :unit ('household'|'area'), :area_level, :seg, :seg_name,
-- :parent (parent segment code or NULL), :parent_name. No geometry, no index needs.
WITH c AS (
    INSERT INTO classification (code, name, unit, area_level, source)
    VALUES (:cls, :cls_name, :unit, :area_level, 'ingest')
    ON CONFLICT (code) DO NOTHING
)
INSERT INTO segment (classification_code, code, name, parent_code, description, sort_order)
VALUES (:cls, :seg, :seg_name, :parent, :parent_name, 0)
ON CONFLICT (classification_code, code) DO NOTHING
