-- mart.coverage_churn_segment_month: the view's whole current definition. Edit here; migrate() re-creates every
-- view when any view file changes (include/sql/views/README.md).

create view mart.coverage_churn_segment_month with (security_barrier) as
select
    period_month,
    regency_code,
    segment_code as segment,
    funding_code as funding_source,
    covered_workers,
    new_workers,
    continuing_workers,
    returning_workers,
    lapsed_workers
from dw.agg_churn_segment_month
where (select access.sees_all()) or regency_code in (select v.regency_code from access.visible_regency as v);

comment on view mart.coverage_churn_segment_month is 'Coverage churn per month, regency, segment and funding source, with the definitions of coverage_churn_month applied within each segment and funding source: a worker moving from village funds to APBD lapses from one and is new (or returning) in the other.';
comment on column mart.coverage_churn_segment_month.period_month is 'First day of the reporting month.';
comment on column mart.coverage_churn_segment_month.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.coverage_churn_segment_month.segment is 'PU wage earners, BPU informal workers, JAKON construction, PMI migrant workers.';
comment on column mart.coverage_churn_segment_month.funding_source is 'Who pays the contribution: APBD, APBDES, DBH_SAWIT, BAZNAS, CSR, EMPLOYER, SELF or UNKNOWN.';
comment on column mart.coverage_churn_segment_month.covered_workers is 'Distinct workers covered this month in this segment and funding source.';
comment on column mart.coverage_churn_segment_month.new_workers is 'Covered here this month, never before in this regency, segment and funding source.';
comment on column mart.coverage_churn_segment_month.continuing_workers is 'Covered here this month and last month.';
comment on column mart.coverage_churn_segment_month.returning_workers is 'Covered here this month, not last month, but in an earlier month.';
comment on column mart.coverage_churn_segment_month.lapsed_workers is 'Covered here last month, not this month.';
