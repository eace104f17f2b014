-- Store each staged address's H3 cells (resolutions 5 to 12, element r - 4).
-- Parameters: none (reads the session's staging table h3_stage_cells). SRIDs: none.
-- Indexes: pk_address.
UPDATE address a SET h3_cells = s.h3_cells
FROM h3_stage_cells s
WHERE a.uprn = s.uprn
