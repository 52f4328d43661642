-- Units expected to send a roster for %(period)s that have none in force:
-- every village of a regency that reported this month or the month before,
-- and every OPD and employer of such a regency seen in an earlier month.
with regencies as (
    select distinct u.regency_code
    from dw.fact_submission as s
    join dw.dim_reporting_unit as u using (unit_sk)
    where s.period_month in (%(period)s, %(previous)s)
),

expected as (
    select r.regency_code, 'village' as source_kind, v.region_code as unit_key
    from regencies as r
    join dw.dim_region as v on v.level = 'village' and v.regency_code = r.regency_code
    union all
    select u.regency_code, u.source_kind, u.unit_key
    from dw.dim_reporting_unit as u
    join regencies as r using (regency_code)
    where u.source_kind <> 'village' and u.first_period <= %(period)s
),

reported as (
    select u.source_kind, u.unit_key
    from dw.fact_submission as s
    join dw.dim_reporting_unit as u using (unit_sk)
    where s.period_month = %(period)s
)

select e.regency_code, e.source_kind, count(*) as units_missing
from expected as e
where not exists (
    select from reported as r where r.source_kind = e.source_kind and r.unit_key = e.unit_key
)
group by 1, 2
order by 1, 2
