-- V010: mart.units_not_reported, same columns, driven by the per-month
-- regency aggregate so a filter on regency and month reaches every lookup
-- (the first version built the whole expected-unit set before filtering).

create or replace view mart.units_not_reported as
select a.period_month, a.regency_code, 'village'::text as source_kind, v.region_code as unit_code,
       v.name as unit_name
from dw.agg_regency_month as a
join dw.dim_region as v on v.level = 'village' and v.regency_code = a.regency_code
where not exists (
    select
    from dw.dim_reporting_unit as u
    join dw.fact_submission as s on s.unit_sk = u.unit_sk and s.period_month = a.period_month
    where u.source_kind = 'village' and u.unit_key = v.region_code
)
union all
select a.period_month, a.regency_code, u.source_kind, u.unit_code, u.unit_name
from dw.agg_regency_month as a
join dw.dim_reporting_unit as u
    on u.regency_code = a.regency_code and u.source_kind <> 'village' and u.first_period <= a.period_month
where not exists (
    select from dw.fact_submission as s where s.period_month = a.period_month and s.unit_sk = u.unit_sk
);
