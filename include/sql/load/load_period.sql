-- Rebuild one month of the star schema's coverage facts from the rows in
-- force, after submissions.sql (the units and their submissions). Run inside
-- one transaction by ucj.facts.load_facts: every statement replaces the
-- month whole, so a rerun leaves it identical. Enough memory to sort a million
-- rows without spilling to disk.
set local work_mem = '256MB';
set local maintenance_work_mem = '512MB';  -- the partition's primary key is built in one sort
-- Row estimates across these joins are poor right after a bulk load, and a
-- nested loop over a million index probes is the planner's costly mistake.
set local enable_nestloop = off;
-- The facts are written by CREATE TABLE AS, which (unlike INSERT) may scan,
-- join and sort in parallel workers; the planner underrates that because it
-- underestimates the month's rows. Measured at 1M rows: 3.6 s instead of 4.7 s.
set local parallel_setup_cost = 0;
set local parallel_tuple_cost = 0.001;

-- 3. Coverage: a worker is covered for program P in month M when a loaded row
--    in force lists P, is active, started by the end of M and has not ended
--    before it (CONTRACT.md §4). {target} is created here, without indexes
--    and with dw.fact_coverage's columns in its order; ucj.facts.load_period
--    constrains and indexes it and swaps it in as the month's partition.
--    Only merged workers need a lookup: every other link already holds the
--    surviving key.
create table {target} as
select distinct on (worker_key, program_code, u.unit_sk)
       %(period)s::date as period_month, coalesce(m.merged_into, l.worker_key) as worker_key,
       p.program_code, u.unit_sk, r.regency_code, r.segment as segment_code,
       coalesce(r.funding_source, 'UNKNOWN') as funding_code
from ingest.roster_row as r
join identity.row_link as l
    on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row
left join (select worker_key, merged_into from identity.worker where merged_into is not null) as m
    on m.worker_key = l.worker_key
join dw.dim_reporting_unit as u on u.source_kind = r.source_kind and u.unit_key = r.unit_key
cross join lateral unnest(r.programs) as p (program_code)
where r.period_month = %(period)s
  and r.status = 'loaded'
  and not r.superseded
  and r.file_id <> all(%(held)s::bigint[])
  and r.is_active
  and (r.enrollment_start is null or r.enrollment_start <= %(period_end)s)
  and (r.enrollment_end is null or r.enrollment_end >= %(period_end)s)
order by worker_key, program_code, u.unit_sk, segment_code, funding_code;

-- The mart refresh that follows in this transaction plans better without them.
set local parallel_setup_cost to default;
set local parallel_tuple_cost to default;
