-- Refresh what the marts read for one month, after load_period.sql in the
-- same transaction: the aggregates BI queries hit, and the worker dimension.

-- 1. Aggregates the marts read, replaced with the month.
delete from dw.agg_regency_month where period_month = %(period)s;
insert into dw.agg_regency_month (period_month, regency_code, covered_workers, units_reported)
select %(period)s, u.regency_code, coalesce(max(c.covered), 0), count(*)
from dw.fact_submission as s
join dw.dim_reporting_unit as u using (unit_sk)
left join (
    select regency_code, count(distinct worker_key) as covered
    from dw.fact_coverage
    where period_month = %(period)s
    group by 1
) as c on c.regency_code = u.regency_code
where s.period_month = %(period)s
group by u.regency_code;

delete from dw.agg_coverage_program_month where period_month = %(period)s;
insert into dw.agg_coverage_program_month
select period_month, regency_code, program_code, segment_code, funding_code, count(distinct worker_key)
from dw.fact_coverage
where period_month = %(period)s
group by 1, 2, 3, 4, 5;

-- 2. What each worker looked like this month: the latest file's non-empty
--    value per attribute. Workers who were in the month before this load and
--    are not any more also get their versions rebuilt.
create temp table worker_touched on commit drop as
select worker_key from identity.worker_month where period_month = %(period)s;

delete from identity.worker_month where period_month = %(period)s;
insert into identity.worker_month (period_month, worker_key, full_name, gender, birth_date, village_code)
select %(period)s, coalesce(w.merged_into, w.worker_key),
       (array_agg(r.full_name order by f.modified_at desc, f.rel_path desc, r.source_row)
            filter (where r.full_name is not null))[1],
       (array_agg(r.gender order by f.modified_at desc, f.rel_path desc, r.source_row)
            filter (where r.gender is not null))[1],
       (array_agg(r.birth_date order by f.modified_at desc, f.rel_path desc, r.source_row)
            filter (where r.birth_date is not null))[1],
       (array_agg(r.village_code order by f.modified_at desc, f.rel_path desc, r.source_row)
            filter (where r.village_code is not null))[1]
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
join identity.row_link as l using (file_id, source_row)
join identity.worker as w on w.worker_key = l.worker_key
where r.period_month = %(period)s and r.status = 'loaded' and not r.superseded
group by 2;

insert into worker_touched select worker_key from identity.worker_month where period_month = %(period)s;

-- 3. SCD2 versions of this month's workers, rebuilt from all their months: a
--    new version starts in each month whose attributes differ from the month
--    before. ucj.facts.load_period holds the worker-dimension lock, so loads of
--    different months take turns and each sees the other's committed months.
create temp table worker_version on commit drop as
with months as (
    select m.*,
           (m.full_name, m.gender, m.birth_date, m.village_code) is distinct from (
               lag(m.full_name) over w, lag(m.gender) over w, lag(m.birth_date) over w, lag(m.village_code) over w
           ) as changed
    from identity.worker_month as m
    where m.worker_key in (select worker_key from worker_touched)
    window w as (partition by m.worker_key order by m.period_month)
)
select worker_key, full_name, gender, birth_date, village_code, period_month as valid_from,
       lead(period_month) over (partition by worker_key order by period_month) as valid_to
from months
where changed;

delete from dw.dim_worker as d
where d.worker_key in (select worker_key from worker_touched)
  and not exists (
      select from worker_version as v where v.worker_key = d.worker_key and v.valid_from = d.valid_from
  );

insert into dw.dim_worker
    (worker_key, full_name, gender, birth_date, home_village_code, valid_from, valid_to, is_current)
select worker_key, full_name, gender, birth_date, village_code, valid_from, valid_to, valid_to is null
from worker_version
on conflict (worker_key, valid_from) do update
set full_name = excluded.full_name, gender = excluded.gender, birth_date = excluded.birth_date,
    home_village_code = excluded.home_village_code, valid_to = excluded.valid_to,
    is_current = excluded.is_current
where (dw.dim_worker.full_name, dw.dim_worker.gender, dw.dim_worker.birth_date,
       dw.dim_worker.home_village_code, dw.dim_worker.valid_to)
      is distinct from
      (excluded.full_name, excluded.gender, excluded.birth_date, excluded.home_village_code, excluded.valid_to);
