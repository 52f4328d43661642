-- V003: original cell values are kept for quarantined rows (what a clerk must
-- correct); loaded and duplicate rows are fully described by their parsed
-- values, and storing every cell twice doubled the row table.
alter table ingest.roster_row alter column original drop not null;
alter table ingest.roster_row add constraint roster_row_quarantined_original
    check (status <> 'quarantined' or original is not null);
comment on column ingest.roster_row.original is
    'The row''s cells as written, keyed by the file''s header text; kept for quarantined rows.';
