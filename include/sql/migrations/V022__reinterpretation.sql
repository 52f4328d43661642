-- A file version can be interpreted again from its unchanged bytes after a
-- vocabulary or header-synonym change (ucj_ingest_<kind> with
-- reinterpret=true, or make reinterpret). Its rows are replaced in place
-- (same file_id and row numbers); the counter goes into the stage
-- fingerprints, so settle, validation and the month's load run again.
alter table ingest.source_file
    add column interpretation integer not null default 0,
    add column reinterpreted_at timestamptz;
comment on column ingest.source_file.interpretation is
    'How many times the file version''s rows were interpreted again from its unchanged bytes (0: as first read).';
comment on column ingest.source_file.reinterpreted_at is
    'When the rows were last interpreted again (after a vocabulary or header-synonym change); null if never.';
