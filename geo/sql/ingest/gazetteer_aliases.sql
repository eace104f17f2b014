-- Alternative names of gazetteer addresses ('The Laurels' for '12 Coronation Street').
-- Parameters: none. No geometry. Indexes: none needed (full scan, once per batch).
SELECT uprn, alias_text FROM address_alias
