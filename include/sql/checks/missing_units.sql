-- Units expected to send a roster for %(period)s that have none in force
-- (dw.expected_unit): asked of every regency that reported this month or the
-- month before, so a regency that went silent altogether is counted too.
with regencies as (
    select distinct u.regency_code
    from dw.fact_submission as s
    join dw.dim_reporting_unit as u using (unit_sk)
    where s.period_month in (%(period)s, %(previous)s)
)

select e.regency_code, e.source_kind, count(*) as units_missing
from dw.expected_unit as e
join regencies using (regency_code)
where e.period_month = %(period)s
  and not exists (
      select from dw.unit_reported as r
      where r.period_month = e.period_month and r.source_kind = e.source_kind and r.unit_key = e.unit_key
  )
group by 1, 2
order by 1, 2
