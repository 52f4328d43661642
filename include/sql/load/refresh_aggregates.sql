-- Refresh the per-month aggregates the marts read, after load_period.sql in
-- the same transaction (ucj.facts.load_facts). Distinct counts are taken as
-- "distinct rows, then count" so PostgreSQL can hash instead of sorting every
-- group.
set local work_mem = '256MB';

delete from dw.agg_regency_month where period_month = %(period)s;
insert into dw.agg_regency_month (period_month, regency_code, covered_workers, units_reported)
select %(period)s, u.regency_code, coalesce(max(c.covered), 0), count(*)
from dw.fact_submission as s
join dw.dim_reporting_unit as u using (unit_sk)
left join (
    select regency_code, count(*) as covered
    from (select distinct regency_code, worker_key from dw.fact_coverage where period_month = %(period)s) as d
    group by 1
) as c on c.regency_code = u.regency_code
where s.period_month = %(period)s
group by u.regency_code;

delete from dw.agg_coverage_program_month where period_month = %(period)s;
insert into dw.agg_coverage_program_month
select %(period)s, regency_code, program_code, segment_code, funding_code, count(*)
from (
    select distinct regency_code, program_code, segment_code, funding_code, worker_key
    from dw.fact_coverage
    where period_month = %(period)s
) as d
group by 2, 3, 4, 5;
