-- V013: a reviewer can undo any link, whether a rule, the model or another
-- reviewer made it, and the correction holds on every later run.
--
-- * identity.worker_merge keeps each merge as an edge (merged worker -> the
--   worker it was merged into). merged_into on identity.worker is the root
--   of that forest, so a merge can be undone: remove the edge, recompute.
-- * identity.keep_apart: "these two workers are different people". If they
--   are merged, the most recent merge joining them is undone; rules and
--   model never join them again. (A rejected pair in
--   identity.match_candidate means the same.)
-- * identity.row_decision: "these rows are not worker W". The rows move to a
--   worker of their own (one per split_group), take the evidence only they
--   carried, and the two workers are kept apart from then on.
-- * identity.pending_reload: months whose facts were loaded with links a
--   correction has since changed; the next consolidation reloads them.
-- * identity.worker.village_code: the village a worker was first seen in,
--   for blocking on birth date + village.

create table identity.worker_merge (
    worker_key   bigint primary key,
    merged_into  bigint not null,
    rule         text not null,
    merged_at    timestamptz not null default now(),
    check (worker_key <> merged_into)
);
comment on table identity.worker_merge is
    'Every merge as an edge: worker_key was merged into merged_into by rule (nik, name_birth_date, model, reviewer; history = merged before this table existed). identity.worker.merged_into is the root of this forest.';

insert into identity.worker_merge (worker_key, merged_into, rule)
select worker_key, merged_into, 'history' from identity.worker where merged_into is not null;

create table identity.keep_apart (
    worker_a    bigint not null,
    worker_b    bigint not null,
    decided_by  text not null,
    decided_at  timestamptz not null default now(),
    note        text,
    applied_at  timestamptz,
    primary key (worker_a, worker_b),
    check (worker_a < worker_b)
);
comment on table identity.keep_apart is
    'A reviewer''s "these two workers are different people" (worker_a < worker_b, any keys they were ever known by). The next consolidation undoes the merge that joined them, if any, and reloads the months it changes; rules and model never join them again.';

create table identity.row_decision (
    file_id             bigint not null,
    source_row          integer not null,
    not_worker_key      bigint not null,
    split_group         text not null,
    decided_by          text not null,
    decided_at          timestamptz not null default now(),
    note                text,
    applied_worker_key  bigint,
    applied_at          timestamptz,
    primary key (file_id, source_row)
);
comment on table identity.row_decision is
    'A reviewer''s "these rows are not this person". Insert one row per roster row (file_id, source_row) with the worker it wrongly joined (not_worker_key) and a split_group naming the person it belongs to instead; rows of one split_group become one worker. The next consolidation applies it and fills applied_worker_key / applied_at.';

create table identity.pending_reload (
    period_month  date primary key,
    reason        text not null,
    since         timestamptz not null default now()
);
comment on table identity.pending_reload is
    'Months whose facts a reviewer''s correction has changed; the next consolidation reloads them and clears the entry.';

alter table identity.worker add column village_code text;
comment on column identity.worker.village_code is
    'Village (Kemendagri code) of the first roster row that created this worker; blocks candidate pairs on birth date + village.';

update identity.worker as w
set village_code = first_row.village_code
from (
    select distinct on (l.worker_key) l.worker_key, r.village_code
    from identity.row_link as l
    join ingest.roster_row as r using (file_id, source_row)
    where r.village_code is not null
    order by l.worker_key, r.period_month, r.file_id, r.source_row
) as first_row
where first_row.worker_key = w.worker_key;

-- What a reviewer looks at before splitting a worker: each row it holds,
-- why it is there, and where it came from.
create view identity.worker_rows as
select
    coalesce(w.merged_into, w.worker_key) as worker_key,
    l.worker_key as linked_worker_key,
    l.rule,
    l.score,
    l.linked_at,
    r.file_id,
    r.source_row,
    f.rel_path,
    r.period_month,
    r.source_kind,
    r.nik,
    r.full_name,
    r.birth_date,
    r.gender,
    r.village_code,
    r.unit_name
from identity.row_link as l
join identity.worker as w on w.worker_key = l.worker_key
join ingest.roster_row as r using (file_id, source_row)
join ingest.source_file as f on f.file_id = r.file_id;
comment on view identity.worker_rows is
    'Every roster row a worker holds (through its own key or a key merged into it), with the link''s rule or score: what a reviewer checks before splitting rows off with identity.row_decision or undoing a merge with identity.keep_apart. Holds personal data.';
