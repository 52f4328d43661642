-- Rebuild one month of the star schema from the rows in force. Run inside one
-- transaction by ucj.facts.load_period: every statement replaces the month
-- whole, so a rerun leaves it identical. Enough memory to sort a million
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

-- 0. The month's rows per file and unit, counted once for both the units and
--    the submissions below (each would otherwise scan the month again).
drop table if exists month_file_unit;
create temp table month_file_unit on commit drop as
select file_id, source_kind, unit_key, unit_code, unit_name, regency_code,
       count(*) as rows_received,
       count(*) filter (where status = 'loaded') as rows_loaded,
       count(*) filter (where status = 'quarantined') as rows_quarantined,
       count(*) filter (where status = 'duplicate') as rows_duplicate
from ingest.roster_row
where period_month = %(period)s and not superseded and unit_key is not null
  and file_id <> all(%(held)s::bigint[])  -- held files wait for publication (ucj.publication)
group by 1, 2, 3, 4, 5, 6;

-- 1. Reporting units seen this month (new ones get a surrogate key; a unit
--    keeps its key and first period forever, its name follows the latest file).
--    Units per file first (a hash over the rows), then the latest file per unit.
insert into dw.dim_reporting_unit (source_kind, unit_key, unit_code, unit_name, regency_code, first_period)
select distinct on (r.source_kind, r.unit_key)
       r.source_kind, r.unit_key, r.unit_code, r.unit_name, r.regency_code, %(period)s::date
from (select * from month_file_unit where rows_loaded > 0) as r
join ingest.source_file as f using (file_id)
order by r.source_kind, r.unit_key, f.modified_at desc, f.rel_path desc, r.unit_name
on conflict (source_kind, unit_key) do update
set unit_name = coalesce(excluded.unit_name, dw.dim_reporting_unit.unit_name),
    first_period = least(dw.dim_reporting_unit.first_period, excluded.first_period);

-- 2. Submissions: the file in force per unit, with its row outcomes.
delete from dw.fact_submission where period_month = %(period)s;
with in_force as (
    select source_kind, unit_key, file_id,
           sum(rows_received) as rows_received,
           sum(rows_loaded) as rows_loaded,
           sum(rows_quarantined) as rows_quarantined,
           sum(rows_duplicate) as rows_duplicate
    from month_file_unit
    group by 1, 2, 3
)
insert into dw.fact_submission
    (period_month, unit_sk, file_id, rows_received, rows_loaded, rows_quarantined, rows_duplicate, received_at)
select %(period)s, u.unit_sk, i.file_id, i.rows_received, i.rows_loaded, i.rows_quarantined, i.rows_duplicate,
       f.modified_at
from in_force as i
join dw.dim_reporting_unit as u using (source_kind, unit_key)
join ingest.source_file as f using (file_id)
where i.rows_loaded > 0;

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
