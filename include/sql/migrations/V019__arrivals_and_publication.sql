-- Rosters picked up as they arrive, and write-audit-publish per source kind and month.
--
-- ingest.landing_seen: what the arrival sweep last saw of each landed file
-- (size, modification time, content hash), so an hourly sweep that finds
-- nothing new costs one listing and one query, and a file that was only
-- touched (same bytes) is not ingested again every hour.
create table ingest.landing_seen (
    source_kind   text not null check (source_kind in ('opd', 'village', 'employer')),
    rel_path      text not null,
    period_month  date not null check (extract(day from period_month) = 1),
    size_bytes    bigint not null,
    modified_at   timestamptz not null,
    content_hash  text not null,
    seen_at       timestamptz not null default now(),
    primary key (source_kind, rel_path)
);
-- The files read before this table existed: the first sweep must not read them all again.
insert into ingest.landing_seen (source_kind, rel_path, period_month, size_bytes, modified_at, content_hash)
select distinct on (source_kind, rel_path) source_kind, rel_path, period_month, size_bytes, modified_at, content_hash
from ingest.source_file
where status <> 'replaced'
order by source_kind, rel_path, ingested_at desc, file_id desc;
comment on table ingest.landing_seen is
    'The landing zone as the pipeline last read it: one row per file path, with the size, modification time and content hash of the version read. The arrival sweep ingests a kind-month when a file in it is new or differs from this.';

-- A file version's rows count in the marts only once its kind-month is
-- published: its batch passed validation, or a data steward approved it.
-- Until then the marts keep the last published state of that kind-month.
alter table ingest.source_file
    add column published_at timestamptz,
    add column published_by text;
-- Everything loaded before write-audit-publish existed was published.
update ingest.source_file set published_at = ingested_at, published_by = 'validation' where status <> 'failed';
create index source_file_unpublished on ingest.source_file (period_month, source_kind)
    where published_at is null and status <> 'failed';
comment on column ingest.source_file.published_at is
    'When this version''s rows started to count in the marts (null: held, waiting for validation or a steward''s approval).';
comment on column ingest.source_file.published_by is
    '''validation'' when its kind-month passed every expectation, else the Airflow user who approved publication.';

create table audit.publication (
    publication_id       bigint generated always as identity primary key,
    source_kind          text not null check (source_kind in ('opd', 'village', 'employer')),
    period_month         date not null,
    decision             text not null check (decision in ('validated', 'held', 'approved', 'rejected', 'void')),
    -- The batch judged: a digest of the file versions (ids and states) of the kind-month.
    candidate            text not null,
    file_ids             bigint[] not null,
    failed_expectations  jsonb,
    decided_by           text,
    note                 text,
    dag_id               text,
    run_id               text,
    decided_at           timestamptz not null default now()
);
create index publication_kind_month on audit.publication (source_kind, period_month, decided_at desc);
comment on table audit.publication is
    'Write-audit-publish decisions per source kind and month. validated: passed every expectation and was published; held: failed one (failed_expectations: names and counts, never values) and waits for a steward; approved / rejected: the steward''s answer in the Airflow UI (decided_by = Airflow user); void: an answer for a batch that had been replaced meanwhile, which applied to nothing.';

-- Identity review in the Airflow UI: which request showed a pair last, so the
-- next request shows the pairs nobody has seen first.
alter table identity.match_candidate
    add column presented_at timestamptz,
    add column presented_in text;
comment on column identity.match_candidate.presented_in is
    'The Airflow run (dag_id/run_id) whose Required Action last showed this pair to reviewers.';

create or replace view mart.roster_row_status as
select
    r.source_kind,
    f.rel_path as source_file,
    r.source_row,
    r.period_month,
    case when r.superseded then 'superseded' else r.status end as status,
    case when r.status = 'quarantined' and not r.superseded then r.reason end as reason,
    case when r.status in ('loaded', 'duplicate') then coalesce(w.merged_into, l.worker_key) end as worker_key,
    f.file_id,
    f.modified_at as file_modified_at,
    case when f.published_at is null then 'held' else 'published' end as publication,
    f.published_at,
    f.published_by
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
left join identity.row_link as l
    on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row
left join identity.worker as w on w.worker_key = l.worker_key;
comment on column mart.roster_row_status.publication is
    'published: the row''s file counts in the marts; held: its source kind and month failed validation and waits for a data steward''s approval (or a fixed file), so the marts still show the last published state.';
comment on column mart.roster_row_status.published_at is
    'When the row''s file started to count in the marts (null while held).';
comment on column mart.roster_row_status.published_by is
    '''validation'' (passed every expectation) or the Airflow user who approved publication.';
