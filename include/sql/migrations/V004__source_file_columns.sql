-- V004: which header text each canonical field had in the file, so reports
-- to clerks name columns the way the clerk wrote them.
alter table ingest.source_file add column columns jsonb;
comment on column ingest.source_file.columns is
    'Canonical field -> header text as written in the file (e.g. {"nik": "No KTP"}).';
comment on column ingest.roster_row.original is
    'The row''s cells as written, keyed by header text; kept for quarantined rows and for counted rows with a broken NIK (what a clerk must correct).';
