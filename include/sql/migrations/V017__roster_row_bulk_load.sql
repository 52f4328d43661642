-- V017: ingest.roster_row is written only by ucj.ingest, by COPY, in the
-- transaction that records the batch's files, with the file_id each record
-- returned. The foreign key's probe into ingest.source_file, once per row,
-- was a third of that COPY (3.5 s of 11.3 s at 1M rows). As for the identity
-- tables (V006), the writer owns the reference and the test suite checks it
-- (no roster row without its file); the one delete of file records (failed
-- files, tried again) deletes their rows with them, as the cascade did.
alter table ingest.roster_row drop constraint roster_row_file_id_fkey;
