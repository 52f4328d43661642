-- V016: identity.row_link partitioned by the roster row's month.
--
-- Each month's load joins that month's roster rows to their links; with one
-- table it read every month's links (a year of history: twelve times the
-- month it needed). And identity resolution links a month's rows at once:
-- inserting a million links through two indexes took 4-5 s at 1M roster
-- rows, while a new month's partition filled without indexes, indexed in one
-- sorted pass and attached takes under 2 s (ucj.identity.resolve). The
-- primary key keeps (file_id, source_row) in front, so a lookup by row, as
-- reviewers' corrections make, still uses each partition's index.

alter table identity.row_link rename to row_link_unpartitioned;
alter index identity.row_link_pkey rename to row_link_unpartitioned_pkey;
alter index identity.row_link_worker rename to row_link_unpartitioned_worker;

create table identity.row_link (
    period_month  date not null,
    file_id       bigint not null,
    source_row    integer not null,
    worker_key    bigint not null,
    rule          text not null,
    score         numeric(6, 3),
    linked_at     timestamptz not null default now(),
    primary key (file_id, source_row, period_month)
) partition by range (period_month);
create index row_link_worker on identity.row_link (worker_key);
comment on table identity.row_link is
    'Which worker each roster row belongs to, and the evidence: rule and score. One partition per month of the roster rows (period_month is the row''s).';
comment on column identity.row_link.rule is
    'What linked the row: nik (same NIK, agreeing name or birth date), name_birth_date (same name key and birth date, compatible NIKs), new (the row created the worker), reviewer (moved by identity.row_decision). Merges between workers are in identity.worker_merge.';

do $$
declare
    month date;
begin
    for month in
        select distinct r.period_month
        from identity.row_link_unpartitioned as l
        join ingest.roster_row as r using (file_id, source_row)
    loop
        execute format(
            'create table identity.%I partition of identity.row_link for values from (%L) to (%L)',
            'row_link_' || to_char(month, 'YYYYMM'), month, (month + interval '1 month')::date
        );
    end loop;
end
$$;

insert into identity.row_link (period_month, file_id, source_row, worker_key, rule, score, linked_at)
select r.period_month, l.file_id, l.source_row, l.worker_key, l.rule, l.score, l.linked_at
from identity.row_link_unpartitioned as l
join ingest.roster_row as r using (file_id, source_row);

do $$
begin
    if (select count(*) from identity.row_link) <> (select count(*) from identity.row_link_unpartitioned) then
        raise exception 'identity.row_link holds links to roster rows that no longer exist; '
            'delete them (identity.row_link_unpartitioned left join ingest.roster_row) and migrate again';
    end if;
end
$$;

-- The two views that read the links, now joined on the month too (so a
-- month's rows read only that month's links); same columns as before.
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
    f.modified_at as file_modified_at
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
left join identity.row_link as l
    on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row
left join identity.worker as w on w.worker_key = l.worker_key;

create or replace view identity.worker_rows as
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
join ingest.roster_row as r using (period_month, file_id, source_row)
join ingest.source_file as f on f.file_id = r.file_id;

drop table identity.row_link_unpartitioned;
