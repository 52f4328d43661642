-- Bring one month already loaded up to date with what changed since, by
-- rewriting only the workers concerned, from their rows, instead of the
-- month (ucj.facts.apply_changes): workers merged (rules, model, reviewers'
-- accepted pairs); rows linked again because an earlier month's file came
-- later (identity.pending_relink); and the workers of every unit a changed
-- file version holds (a late file, a corrected one, one published or
-- interpreted again: the temp table unit_scope, whose units and submissions
-- submissions.sql has just rewritten). The result equals submissions.sql +
-- load_period.sql + refresh_aggregates.sql + worker_month.sql on the same
-- inputs (tests/warehouse/test_incremental_load.py). Caller owns the
-- transaction; worker_versions.sql follows in it.
-- Parameters: period, period_end, held, changed_files.
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

-- Every worker whose rows, facts or versions change: the keys merged away
-- and the keys they went to; for rows linked again, the worker each left
-- (as it was then, and what it is now) and the worker it is linked to now.
-- A worker emptied and deleted since is still here: its facts go.
drop table if exists worker_touched;
create temp table worker_touched on commit drop as
select worker_key from merged_away
union
select merged_into from merged_away
union
select p.worker_key from identity.pending_relink as p where p.period_month = %(period)s
union
select w.merged_into
from identity.pending_relink as p
join identity.worker as w on w.worker_key = p.worker_key
where p.period_month = %(period)s and w.merged_into is not null
union
select coalesce(w.merged_into, l.worker_key)
from identity.pending_relink as p
join identity.row_link as l
    on l.period_month = p.period_month and l.file_id = p.file_id and l.source_row = p.source_row
join identity.worker as w on w.worker_key = l.worker_key
where p.period_month = %(period)s
union
select coalesce(w.merged_into, l.worker_key)
from (
    select r.period_month, r.file_id, r.source_row
    from unit_scope as u
    join ingest.roster_row as r
        on r.period_month = %(period)s and r.source_kind = u.source_kind and r.unit_key = u.unit_key
    union
    select r.period_month, r.file_id, r.source_row
    from ingest.roster_row as r
    where r.file_id = any(%(changed_files)s::bigint[])  -- rows without a unit too
) as c
join identity.row_link as l
    on l.period_month = c.period_month and l.file_id = c.file_id and l.source_row = c.source_row
join identity.worker as w on w.worker_key = l.worker_key;
alter table worker_touched add primary key (worker_key);
analyze worker_touched;

-- Their link keys: the touched roots and every key merged into them (the
-- month's links may still name a key merged away before).
drop table if exists link_key;
create temp table link_key on commit drop as
select w.worker_key, coalesce(w.merged_into, w.worker_key) as root_key
from identity.worker as w
where coalesce(w.merged_into, w.worker_key) in (select t.worker_key from worker_touched as t);
alter table link_key add primary key (worker_key);
analyze link_key;

-- Their rows in force this month, through the links (an index probe per
-- worker, not a pass over the month).
drop table if exists touched_row;
create temp table touched_row on commit drop as
select k.root_key as worker_key, r.file_id, r.source_row, r.source_kind, r.unit_key, r.programs, r.regency_code,
       r.segment, r.funding_source, r.is_active, r.enrollment_start, r.enrollment_end, r.full_name, r.gender,
       r.birth_date, r.village_code
from link_key as k
join identity.row_link as l on l.worker_key = k.worker_key and l.period_month = %(period)s
join ingest.roster_row as r
    on r.period_month = l.period_month and r.file_id = l.file_id and r.source_row = l.source_row
where r.status = 'loaded' and not r.superseded;
analyze touched_row;

-- What the aggregates count of those workers: taken before the rewrite and,
-- in step 4, after it.
drop view if exists counted_now;
create temp view counted_now as
select distinct f.regency_code, f.program_code, f.segment_code, f.funding_code, f.worker_key
from dw.fact_coverage as f
where f.period_month = %(period)s and f.worker_key in (select t.worker_key from worker_touched as t);
drop table if exists counted_before;
create temp table counted_before on commit drop as
select c.regency_code, c.program_code, c.segment_code, c.funding_code, c.worker_key from counted_now as c;

-- 2. Facts: those workers' facts, from their rows, as load_period.sql
--    builds every worker's (where one worker has a program at one unit
--    twice, the smaller segment and funding win).
delete from dw.fact_coverage as f
using worker_touched as t
where f.period_month = %(period)s and f.worker_key = t.worker_key;

insert into dw.fact_coverage
    (period_month, worker_key, program_code, unit_sk, regency_code, segment_code, funding_code)
select distinct on (r.worker_key, p.program_code, u.unit_sk)
       %(period)s::date, r.worker_key, p.program_code, u.unit_sk, r.regency_code, r.segment,
       coalesce(r.funding_source, 'UNKNOWN')
from touched_row as r
join dw.dim_reporting_unit as u on u.source_kind = r.source_kind and u.unit_key = r.unit_key
cross join lateral unnest(r.programs) as p (program_code)
where r.file_id <> all(%(held)s::bigint[])  -- held files wait for publication (ucj.publication)
  and r.is_active
  and (r.enrollment_start is null or r.enrollment_start <= %(period_end)s)
  and (r.enrollment_end is null or r.enrollment_end >= %(period_end)s)
order by r.worker_key, p.program_code, u.unit_sk, r.segment, coalesce(r.funding_source, 'UNKNOWN');

-- 3. The month's worker values (identity.worker_month) of those workers,
--    from their rows as worker_month.sql builds them: the row of the most
--    recent file in force.
delete from identity.worker_month as m
using worker_touched as t
where m.period_month = %(period)s and m.worker_key = t.worker_key;

insert into identity.worker_month (period_month, worker_key, full_name, gender, birth_date, village_code)
select distinct on (r.worker_key)
       %(period)s::date, r.worker_key, r.full_name, r.gender, r.birth_date, r.village_code
from touched_row as r
join ingest.source_file as f on f.file_id = r.file_id
where f.published_at is not null  -- as worker_month.sql
order by r.worker_key, f.modified_at desc, f.rel_path desc, r.source_row;

-- 4. Aggregates: a distinct count changes by what the touched workers count
--    after the rewrite less what they counted before (the others' facts did
--    not change), so only their rows are read, not the month's.
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

-- Regencies whose units' reporting changed: a regency reporting now that
-- had no row gets one (its covered workers counted from the facts), every
-- one's units are counted again, and one left without a reporting unit
-- loses its row, as refresh_aggregates.sql counts them.
drop table if exists regency_scope;
create temp table regency_scope on commit drop as
select distinct u.regency_code
from dw.dim_reporting_unit as u
join unit_scope as s on s.source_kind = u.source_kind and s.unit_key = u.unit_key;

insert into dw.agg_regency_month (period_month, regency_code, covered_workers, units_reported)
select %(period)s, g.regency_code,
       (select count(distinct f.worker_key) from dw.fact_coverage as f
        where f.period_month = %(period)s and f.regency_code = g.regency_code),
       0
from regency_scope as g
where not exists (select from dw.agg_regency_month as a
                  where a.period_month = %(period)s and a.regency_code = g.regency_code);

update dw.agg_regency_month as a
set units_reported = n.units
from (
    select g.regency_code, count(s.unit_sk) as units
    from regency_scope as g
    join dw.dim_reporting_unit as u on u.regency_code = g.regency_code
    left join dw.fact_submission as s on s.unit_sk = u.unit_sk and s.period_month = %(period)s
    group by g.regency_code
) as n
where a.period_month = %(period)s and a.regency_code = n.regency_code;

delete from dw.agg_regency_month
where period_month = %(period)s and units_reported = 0
  and regency_code in (select g.regency_code from regency_scope as g);

-- A group the changes emptied is gone, as a rebuild would leave it.
delete from dw.agg_coverage_program_month
where period_month = %(period)s and covered_workers = 0;

-- 5. The churn counts these workers again at its next refresh (refresh_churn.sql),
--    and the workers those units covered the month before: whether a unit
--    reported this month is the reason of their lapse into it.
insert into dw.churn_pending (period_month, worker_key)
select %(period)s, t.worker_key from worker_touched as t
union
select %(period)s, f.worker_key
from dw.fact_coverage as f
join dw.dim_reporting_unit as u on u.unit_sk = f.unit_sk
join unit_scope as s on s.source_kind = u.source_kind and s.unit_key = u.unit_key
where f.period_month = (%(period)s::date - interval '1 month')::date;
