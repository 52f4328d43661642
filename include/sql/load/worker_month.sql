-- Refresh the worker dimension for one month, part 1 of 2
-- (ucj.facts.refresh_worker_dimension): the month of identity.worker_month,
-- built as {stage}, and the workers whose versions it can change. The caller
-- then swaps {stage} in for the month's partition {month} and runs
-- worker_versions.sql. It reads the month's rows in force and their identity
-- links, not the facts, so the pipeline runs it on a connection of its own
-- beside the facts load; every statement replaces the month whole, so a rerun
-- leaves it identical.
set local work_mem = '256MB';
set local maintenance_work_mem = '256MB';

-- 1. What each worker looked like this month: the row of the most recent
--    file in force. Built as a table of its own, indexed once it is full.
--    As for the facts (load_period.sql): right after identity's bulk writes
--    the planner misjudges the join of the month's rows and their links and
--    picks a nested loop of a million index probes (7.7 s at 1M rows, 4.1 s
--    as hash joins). Unlike the facts, parallel workers are not encouraged:
--    this runs beside the facts load, which has the other core.
set local enable_nestloop = off;
create table {stage} as
select distinct on (coalesce(m.merged_into, l.worker_key))
       %(period)s::date as period_month, coalesce(m.merged_into, l.worker_key) as worker_key,
       r.full_name, r.gender, r.birth_date, r.village_code
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
join identity.row_link as l
    on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row
left join (select worker_key, merged_into from identity.worker where merged_into is not null) as m
    on m.worker_key = l.worker_key
where r.period_month = %(period)s and r.status = 'loaded' and not r.superseded
  and f.published_at is not null  -- held files wait for publication (ucj.publication)
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
