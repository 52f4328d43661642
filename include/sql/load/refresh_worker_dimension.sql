-- Refresh the worker dimension for one month (ucj.facts.refresh_worker_dimension).
-- It reads the month's rows in force and their identity links, not the facts,
-- so the pipeline runs it on a connection of its own beside the facts load;
-- every statement replaces the month whole, so a rerun leaves it identical.
-- {month} is the month's partition of identity.worker_month, {stage} the
-- table that replaces it; the caller creates the one and drops the other.
set local work_mem = '256MB';
set local maintenance_work_mem = '256MB';

-- 1. What each worker looked like this month: the row of the most recent
--    file in force. Built as a table of its own, indexed once it is full.
--    As for the facts (load_period.sql): right after identity's bulk writes
--    the planner misjudges the join of the month's rows and their links and
--    picks a nested loop of a million index probes (7.7 s at 1M rows, 4.1 s
--    as hash joins). No parallel workers: this runs beside the facts load,
--    which has the other core.
set local enable_nestloop = off;
create table {stage} as
select distinct on (coalesce(m.merged_into, l.worker_key))
       %(period)s::date as period_month, coalesce(m.merged_into, l.worker_key) as worker_key,
       r.full_name, r.gender, r.birth_date, r.village_code
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
join identity.row_link as l using (file_id, source_row)
left join (select worker_key, merged_into from identity.worker where merged_into is not null) as m
    on m.worker_key = l.worker_key
where r.period_month = %(period)s and r.status = 'loaded' and not r.superseded
order by coalesce(m.merged_into, l.worker_key), f.modified_at desc, f.rel_path desc, r.source_row;

-- The statements below touch only the workers this month changed: index
-- probes are right for them.
set local enable_nestloop to default;

alter table {stage}
    alter column period_month set not null,
    alter column worker_key set not null,
    add constraint {stage_month} check (period_month >= %(period)s and period_month < %(next_period)s),
    add primary key (worker_key, period_month);

-- 2. Workers whose versions this month can change: the month's row came,
--    went or changed, and the month before and after do not already carry
--    the same values (which leave every version boundary where it was).
--    Rebuilding a worker whose versions did not change is harmless, so the
--    test errs towards rebuilding. The month as loaded before is still the
--    partition {month}.
create temp table worker_touched on commit drop as
select coalesce(n.worker_key, o.worker_key) as worker_key
from {stage} as n
full join {month} as o using (worker_key)
left join identity.worker_month as prev
    on prev.worker_key = coalesce(n.worker_key, o.worker_key)
    and prev.period_month = (%(period)s::date - interval '1 month')::date
left join identity.worker_month as next
    on next.worker_key = coalesce(n.worker_key, o.worker_key)
    and next.period_month = %(next_period)s
where (n.full_name, n.gender, n.birth_date, n.village_code, n.worker_key)
      is distinct from (o.full_name, o.gender, o.birth_date, o.village_code, o.worker_key)
  and not (
      n.worker_key is not null
      and prev.worker_key is not null
      and (n.full_name, n.gender, n.birth_date, n.village_code)
          is not distinct from (prev.full_name, prev.gender, prev.birth_date, prev.village_code)
      and (next.worker_key is null
           or (n.full_name, n.gender, n.birth_date, n.village_code)
              is not distinct from (next.full_name, next.gender, next.birth_date, next.village_code))
      and (o.worker_key is null
           or (o.full_name, o.gender, o.birth_date, o.village_code)
              is not distinct from (prev.full_name, prev.gender, prev.birth_date, prev.village_code))
  );
analyze worker_touched;

-- The new month takes the old one's place (the check lets ATTACH skip
-- scanning its rows).
alter table identity.worker_month detach partition {month};
drop table {month};
alter table {stage} rename to {month_name};
alter table identity.worker_month attach partition {month}
    for values from (%(period)s) to (%(next_period)s);
alter table {month} drop constraint {stage_month};
analyze {month};

-- 3. SCD2 versions of those workers, rebuilt from all their months: a new
--    version starts in each month whose values differ from the month before.
--    ucj.facts.refresh_worker_dimension holds the worker-dimension lock, so
--    refreshes of different months take turns and each sees the other's
--    committed months. Whether a version is stored already is looked up
--    here, once, so the INSERT below does not read the table it writes (its
--    plan no longer depends on what the statistics say about a dimension it
--    is filling; profiling once saw that INSERT run into the statement
--    timeout), and new versions get their surrogate keys in worker order.
create temp table worker_version on commit drop as
with months as (
    select m.*,
           (m.full_name, m.gender, m.birth_date, m.village_code) is distinct from (
               lag(m.full_name) over w, lag(m.gender) over w, lag(m.birth_date) over w, lag(m.village_code) over w
           ) as changed
    from identity.worker_month as m
    where m.worker_key in (select worker_key from worker_touched)
    window w as (partition by m.worker_key order by m.period_month)
),
versions as (
    select worker_key, full_name, gender, birth_date, village_code, period_month as valid_from,
           lead(period_month) over (partition by worker_key order by period_month) as valid_to
    from months
    where changed
)
select v.*, d.worker_sk
from versions as v
left join dw.dim_worker as d on d.worker_key = v.worker_key and d.valid_from = v.valid_from;
analyze worker_version;

delete from dw.dim_worker as d
using worker_touched as t
where d.worker_key = t.worker_key
  and not exists (
      select from worker_version as v where v.worker_sk = d.worker_sk
  );

-- A version that is still there keeps its surrogate key and takes the new
-- values; the others are inserted. Two statements rather than one upsert:
-- INSERT .. ON CONFLICT probes the unique index once more for every row, and
-- in a first month every row is new (the worker-dimension lock keeps other
-- writers out between the two).
update dw.dim_worker as d
set full_name = v.full_name, gender = v.gender, birth_date = v.birth_date, home_village_code = v.village_code,
    valid_to = v.valid_to, is_current = v.valid_to is null
from worker_version as v
where d.worker_sk = v.worker_sk
  and (d.full_name, d.gender, d.birth_date, d.home_village_code, d.valid_to)
      is distinct from (v.full_name, v.gender, v.birth_date, v.village_code, v.valid_to);

insert into dw.dim_worker
    (worker_key, full_name, gender, birth_date, home_village_code, valid_from, valid_to, is_current)
select worker_key, full_name, gender, birth_date, village_code, valid_from, valid_to, valid_to is null
from worker_version
where worker_sk is null
order by worker_key, valid_from;
