-- V006: identity tables are bulk-loaded by one writer (ucj.identity.resolve),
-- a million rows at a time. Per-row foreign-key probes made up most of that
-- load (12 s of 73 s at 1M rows), so the resolver owns referential integrity
-- for these two tables and the test suite checks it (no orphan links, no
-- evidence or link pointing at a missing worker). Evidence keys compare
-- bytewise: they are codes, not words, and locale-aware comparison made the
-- btree twice as slow to fill.
alter table identity.row_link drop constraint row_link_file_id_source_row_fkey;
alter table identity.row_link drop constraint row_link_worker_key_fkey;
alter table identity.worker_evidence drop constraint worker_evidence_worker_key_fkey;
alter table identity.worker_evidence alter column evidence_key type text collate "C";
