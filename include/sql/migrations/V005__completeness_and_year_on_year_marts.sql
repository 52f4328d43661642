-- V005: what BI users ask next - who has not reported, and how a regency moved
-- since the same month last year.

create view mart.units_not_reported as
with months as (
    select distinct s.period_month, u.regency_code
    from dw.fact_submission as s
    join dw.dim_reporting_unit as u using (unit_sk)
),

reported as (
    select s.period_month, u.source_kind, u.unit_key
    from dw.fact_submission as s
    join dw.dim_reporting_unit as u using (unit_sk)
),

villages as (
    select m.period_month, m.regency_code, 'village' as source_kind, v.region_code as unit_code, v.name as unit_name
    from months as m
    join dw.dim_region as v on v.level = 'village' and v.regency_code = m.regency_code
    where not exists (
        select from reported as r
        where r.period_month = m.period_month and r.source_kind = 'village' and r.unit_key = v.region_code
    )
),

known_units as (
    select m.period_month, m.regency_code, u.source_kind, u.unit_code, u.unit_name
    from months as m
    join dw.dim_reporting_unit as u
        on u.regency_code = m.regency_code and u.source_kind <> 'village' and u.first_period <= m.period_month
    where not exists (
        select from reported as r
        where r.period_month = m.period_month and r.source_kind = u.source_kind and r.unit_key = u.unit_key
    )
)

select * from villages
union all
select * from known_units;

comment on view mart.units_not_reported is
    'Reporting units expected but without a roster in force for the month: every village of a regency that reported anything, and every OPD or employer that reported in an earlier month.';
comment on column mart.units_not_reported.period_month is 'First day of the reporting month.';
comment on column mart.units_not_reported.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.units_not_reported.source_kind is 'village, opd or employer.';
comment on column mart.units_not_reported.unit_code is 'Village code (10 digits), OPD code or employer NPP.';
comment on column mart.units_not_reported.unit_name is 'Village, OPD or employer name.';

create view mart.ucj_regency_year_change as
select
    cur.period_month,
    cur.regency_code,
    cur.regency_name,
    cur.covered_workers,
    prev.covered_workers as covered_workers_last_year,
    cur.covered_workers - prev.covered_workers as covered_workers_change,
    cur.ucj_rate_pct,
    prev.ucj_rate_pct as ucj_rate_pct_last_year,
    cur.ucj_rate_pct - prev.ucj_rate_pct as ucj_rate_change_pct_points
from mart.ucj_regency_month as cur
left join mart.ucj_regency_month as prev
    on prev.regency_code = cur.regency_code
    and prev.period_month = (cur.period_month - interval '1 year')::date;

comment on view mart.ucj_regency_year_change is
    'UCJ per regency and month beside the same month a year earlier (null where that month was not reported).';
comment on column mart.ucj_regency_year_change.period_month is 'First day of the reporting month.';
comment on column mart.ucj_regency_year_change.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.ucj_regency_year_change.regency_name is 'Regency/city name.';
comment on column mart.ucj_regency_year_change.covered_workers is 'Distinct covered workers this month.';
comment on column mart.ucj_regency_year_change.covered_workers_last_year is 'Distinct covered workers in the same month last year.';
comment on column mart.ucj_regency_year_change.covered_workers_change is 'covered_workers - covered_workers_last_year.';
comment on column mart.ucj_regency_year_change.ucj_rate_pct is 'UCJ rate this month, percent.';
comment on column mart.ucj_regency_year_change.ucj_rate_pct_last_year is 'UCJ rate in the same month last year, percent.';
comment on column mart.ucj_regency_year_change.ucj_rate_change_pct_points is 'Change of the UCJ rate in percentage points.';

do $$
begin
    if exists (select from pg_roles where rolname = 'bi_reader') then
        execute 'grant select on mart.units_not_reported, mart.ucj_regency_year_change to bi_reader';
    end if;
end
$$;
