-- Rows linked again since their month was loaded used to queue the month for
-- a whole reload (identity.pending_reload): a corrected file of June
-- reloaded July to December whole for the few hundred rows of the people it
-- touched (ucj.identity.reopen), and a reviewer's split every month of the
-- worker. The rows are recorded here instead, with the worker they were
-- linked to; the month's next load rewrites the facts of those workers and
-- of the ones the rows went to, and nothing else
-- (include/sql/load/apply_identity_changes.sql), unless they are more rows
-- than a rewrite is worth (ucj.facts.incremental_scope).

create table identity.pending_relink (
    period_month date not null,
    file_id bigint not null,
    source_row integer not null,
    worker_key bigint not null,
    reason text not null check (reason in ('late_file', 'identity_split')),
    since timestamptz not null default now(),
    primary key (period_month, file_id, source_row)
);
comment on table identity.pending_relink is
    'Rows of a loaded month linked again since its last load (an earlier month''s file came later), with the worker (current key) they were linked to before; the month''s next load rewrites those workers'' facts and the new ones'', then clears the entries.';
comment on column identity.pending_relink.reason is
    'The revision cause the month''s next load records: late_file (an earlier month''s file came after it) or identity_split (a reviewer split the worker or kept two apart).';
comment on column identity.pending_relink.worker_key is
    'The worker the row was linked to when it was linked again; the first such worker is kept if the row is linked again twice before a load.';
