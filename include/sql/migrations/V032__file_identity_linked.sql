-- Which file versions identity still has to link. Finding the unlinked
-- rows by an anti-join of every roster row against every link read the
-- whole history at each consolidation (10 s at seven months of a million
-- rows, growing every month). Identity resolution now links the rows of the
-- published versions not yet marked here and marks them, with the
-- interpretation it read, so a version interpreted again meanwhile
-- (ucj.ingest: its links are deleted) stays to link. Existing versions start
-- unmarked: the first consolidation after this migration looks at them all
-- once, as before.
alter table ingest.source_file add column identity_linked_interpretation integer;
create index source_file_identity_unlinked on ingest.source_file (file_id)
where identity_linked_interpretation is null;
comment on column ingest.source_file.identity_linked_interpretation is
    'The interpretation whose rows identity resolution has linked (null: not yet, or interpreted again since); set by ucj.identity.resolve, cleared by ucj.ingest when the rows are read again.';
