-- V009: remember what each stage last processed, so a rerun on unchanged
-- inputs can skip the work (and say so) instead of redoing it.

create table meta.stage_fingerprint (
    stage         text not null,
    scope         text not null,
    fingerprint   text not null,
    result        jsonb,
    done_at       timestamptz not null default now(),
    primary key (stage, scope)
);
comment on table meta.stage_fingerprint is
    'Per stage (settle, validate, load) and scope (kind/month or month): the fingerprint of the inputs last processed successfully and the result. A rerun with the same fingerprint reuses the result.';

-- Bumped whenever identity resolution links rows or merges workers: part of
-- every month's load fingerprint, since either can change its facts.
create table meta.identity_generation (
    only_row    boolean primary key default true check (only_row),
    generation  bigint not null
);
insert into meta.identity_generation values (true, 0);
comment on table meta.identity_generation is
    'Counter bumped by each identity resolution that changed links or merges.';
