-- Bring one month already loaded up to date with workers merged since, by
-- moving what the merged-away keys hold to the key that survived, instead of
-- rebuilding the month (ucj.facts.apply_merges; it runs only when nothing
-- else the month is built from changed: no file, no reviewer's split, no
-- load SQL). The result equals load_period.sql + worker_month.sql on the same
-- inputs (tests/warehouse/test_incremental_load.py). Caller owns the
-- transaction; worker_versions.sql follows in it.
-- Parameters: period.
set local work_mem = '256MB';

-- 1. The month's keys merged away since it was loaded, and where each went
--    (merged_into always names the surviving root: resolve keeps it flat).
drop table if exists merged_away;
create temp table merged_away on commit drop as
select w.worker_key, w.merged_into
from identity.worker as w
where w.merged_into is not null
  and (exists (select from identity.worker_month as m
               where m.worker_key = w.worker_key and m.period_month = %(period)s)
       or exists (select from dw.fact_coverage as f
                  where f.period_month = %(period)s and f.worker_key = w.worker_key));
alter table merged_away add primary key (worker_key);
analyze merged_away;

-- Every worker whose rows, facts or versions the merges change: the keys
-- merged away and the keys they went to.
drop table if exists worker_touched;
create temp table worker_touched on commit drop as
select worker_key from merged_away
union
select merged_into from merged_away;
analyze worker_touched;

-- What the aggregates count of those workers: taken before the move and,
-- in step 4, after it.
drop view if exists counted_now;
create temp view counted_now as
select distinct f.regency_code, f.program_code, f.segment_code, f.funding_code, f.worker_key
from dw.fact_coverage as f
where f.period_month = %(period)s and f.worker_key in (select t.worker_key from worker_touched as t);
drop table if exists counted_before;
create temp table counted_before on commit drop as
select c.regency_code, c.program_code, c.segment_code, c.funding_code, c.worker_key from counted_now as c;

-- 2. Facts: the merged-away keys' facts become the survivor's. Where the
--    survivor already has the fact (same program, same unit) the smaller
--    segment and funding win, as load_period.sql's DISTINCT ON picks them.
with moved as (
    delete from dw.fact_coverage as f
    using merged_away as m
    where f.period_month = %(period)s and f.worker_key = m.worker_key
    returning f.period_month, m.merged_into as worker_key, f.program_code, f.unit_sk, f.regency_code,
              f.segment_code, f.funding_code
)
insert into dw.fact_coverage
    (period_month, worker_key, program_code, unit_sk, regency_code, segment_code, funding_code)
select distinct on (worker_key, program_code, unit_sk)
       period_month, worker_key, program_code, unit_sk, regency_code, segment_code, funding_code
from moved
order by worker_key, program_code, unit_sk, segment_code, funding_code
on conflict (period_month, worker_key, program_code, unit_sk) do update
set regency_code = excluded.regency_code, segment_code = excluded.segment_code,
    funding_code = excluded.funding_code
where (excluded.segment_code, excluded.funding_code)
      < (dw.fact_coverage.segment_code, dw.fact_coverage.funding_code);

-- 3. The month's worker values (identity.worker_month) of the touched
--    workers, from their rows as worker_month.sql builds them: the row of the
--    most recent file in force. A survivor's rows are linked to it, to the
--    keys merged into it now, and to keys merged into it before.
drop table if exists link_key;
create temp table link_key on commit drop as
select w.worker_key
from identity.worker as w
where coalesce(w.merged_into, w.worker_key) in (select m.merged_into from merged_away as m);
analyze link_key;

delete from identity.worker_month as m
using worker_touched as t
where m.period_month = %(period)s and m.worker_key = t.worker_key;

insert into identity.worker_month (period_month, worker_key, full_name, gender, birth_date, village_code)
select distinct on (coalesce(w.merged_into, l.worker_key))
       %(period)s::date, coalesce(w.merged_into, l.worker_key), r.full_name, r.gender, r.birth_date, r.village_code
from identity.row_link as l
join identity.worker as w on w.worker_key = l.worker_key
join ingest.roster_row as r
    on r.period_month = l.period_month and r.file_id = l.file_id and r.source_row = l.source_row
join ingest.source_file as f on f.file_id = r.file_id
where l.period_month = %(period)s
  and l.worker_key in (select k.worker_key from link_key as k)
  and r.status = 'loaded' and not r.superseded
  and f.published_at is not null  -- held files wait for publication (ucj.publication)
order by coalesce(w.merged_into, l.worker_key), f.modified_at desc, f.rel_path desc, r.source_row;

-- 4. Aggregates: a distinct count changes by what the touched workers count
--    after the move less what they counted before (the others' facts did not
--    move), so only their rows are read, not the month's.
drop table if exists counted_after;
create temp table counted_after on commit drop as
select c.regency_code, c.program_code, c.segment_code, c.funding_code, c.worker_key from counted_now as c;
drop view counted_now;

drop table if exists regency_delta;
create temp table regency_delta on commit drop as
select regency_code, sum(workers)::bigint as workers
from (
    select regency_code, -count(distinct worker_key) as workers from counted_before group by 1
    union all
    select regency_code, count(distinct worker_key) from counted_after group by 1
) as d
group by 1;

update dw.agg_regency_month as a
set covered_workers = a.covered_workers + d.workers
from regency_delta as d
where a.period_month = %(period)s and a.regency_code = d.regency_code and d.workers <> 0;

with delta as (
    select regency_code, program_code, segment_code, funding_code, sum(workers)::bigint as workers
    from (
        select regency_code, program_code, segment_code, funding_code, -count(*) as workers
        from counted_before group by 1, 2, 3, 4
        union all
        select regency_code, program_code, segment_code, funding_code, count(*)
        from counted_after group by 1, 2, 3, 4
    ) as d
    group by 1, 2, 3, 4
    having sum(workers) <> 0
)
insert into dw.agg_coverage_program_month as a
    (period_month, regency_code, program_code, segment_code, funding_code, covered_workers)
select %(period)s, regency_code, program_code, segment_code, funding_code, workers
from delta
on conflict (period_month, regency_code, program_code, segment_code, funding_code) do update
set covered_workers = a.covered_workers + excluded.covered_workers;

-- A group the merges emptied is gone, as a rebuild would leave it.
delete from dw.agg_coverage_program_month
where period_month = %(period)s and covered_workers = 0;

-- 5. The churn counts these workers again at its next refresh (refresh_churn.sql).
insert into dw.churn_pending (period_month, worker_key)
select %(period)s, t.worker_key from worker_touched as t;
