-- mart.ucj_regency_year_change: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

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

comment on view mart.ucj_regency_year_change is 'UCJ per regency and month beside the same month a year earlier (null where that month was not reported).';
comment on column mart.ucj_regency_year_change.period_month is 'First day of the reporting month.';
comment on column mart.ucj_regency_year_change.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.ucj_regency_year_change.regency_name is 'Regency/city name.';
comment on column mart.ucj_regency_year_change.covered_workers is 'Distinct covered workers this month.';
comment on column mart.ucj_regency_year_change.covered_workers_last_year is 'Distinct covered workers in the same month last year.';
comment on column mart.ucj_regency_year_change.covered_workers_change is 'covered_workers - covered_workers_last_year.';
comment on column mart.ucj_regency_year_change.ucj_rate_pct is 'UCJ rate this month, percent.';
comment on column mart.ucj_regency_year_change.ucj_rate_pct_last_year is 'UCJ rate in the same month last year, percent.';
comment on column mart.ucj_regency_year_change.ucj_rate_change_pct_points is 'Change of the UCJ rate in percentage points.';
