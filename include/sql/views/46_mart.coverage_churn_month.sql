-- mart.coverage_churn_month: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view mart.coverage_churn_month with (security_barrier) as
select
    c.period_month,
    c.regency_code,
    reg.name as regency_name,
    c.covered_workers,
    c.new_workers,
    c.continuing_workers,
    c.returning_workers,
    c.lapsed_workers,
    c.lapsed_status_non_aktif,
    c.lapsed_enrollment_ended,
    c.lapsed_unit_not_reported,
    c.lapsed_dropped_from_snapshot
from dw.agg_churn_month as c
join dw.dim_region as reg on reg.region_code = c.regency_code
-- Each regency sees its own (V023, access.visible_regency).
where (select access.sees_all()) or c.regency_code in (select v.regency_code from access.visible_regency as v);

comment on view mart.coverage_churn_month is 'Who came into coverage, stayed, came back or fell out, per month and regency. "Covered" is as in ucj_regency_month (a worker covered for any program through a unit of the regency). new + continuing + returning = covered; covered = last month''s covered - lapsed + new + returning.';
comment on column mart.coverage_churn_month.period_month is 'First day of the reporting month.';
comment on column mart.coverage_churn_month.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.coverage_churn_month.regency_name is 'Regency/city name (Kemendagri).';
comment on column mart.coverage_churn_month.covered_workers is 'Distinct covered workers this month (equals ucj_regency_month.covered_workers).';
comment on column mart.coverage_churn_month.new_workers is 'Covered this month and never before in this regency (in any loaded month).';
comment on column mart.coverage_churn_month.continuing_workers is 'Covered this month and last month.';
comment on column mart.coverage_churn_month.returning_workers is 'Covered this month, not last month, but in an earlier month.';
comment on column mart.coverage_churn_month.lapsed_workers is 'Covered last month, not this month (counted only once this month is loaded).';
comment on column mart.coverage_churn_month.lapsed_status_non_aktif is 'Lapsed workers whom a roster of this month lists with status Non Aktif.';
comment on column mart.coverage_churn_month.lapsed_enrollment_ended is 'Lapsed workers whom a roster of this month lists with an enrollment that ended before the month''s end.';
comment on column mart.coverage_churn_month.lapsed_unit_not_reported is 'Lapsed workers none of whose last month''s units sent a roster this month.';
comment on column mart.coverage_churn_month.lapsed_dropped_from_snapshot is 'Lapsed workers whose unit reported this month without them (or without a valid row for them).';
