-- Who came into coverage, who stayed, who came back and who fell out, per
-- regency and month (mart.coverage_churn_month reads these). Rebuilt whole
-- by the consolidation's refresh_churn task (include/sql/load/refresh_churn.sql)
-- when any month's load changed: a worker's first month in a regency, and so
-- "new" or "returning", depends on every earlier month.
create table dw.agg_churn_month (
    period_month date not null,
    regency_code text not null,
    covered_workers bigint not null,
    new_workers bigint not null,
    continuing_workers bigint not null,
    returning_workers bigint not null,
    lapsed_workers bigint not null,
    lapsed_status_non_aktif bigint not null,
    lapsed_enrollment_ended bigint not null,
    lapsed_unit_not_reported bigint not null,
    lapsed_dropped_from_snapshot bigint not null,
    primary key (period_month, regency_code)
);
comment on table dw.agg_churn_month is
    'Coverage churn per month and regency: new, continuing, returning and lapsed workers, lapses by reason.';

create table dw.agg_churn_segment_month (
    period_month date not null,
    regency_code text not null,
    segment_code text not null,
    funding_code text not null,
    covered_workers bigint not null,
    new_workers bigint not null,
    continuing_workers bigint not null,
    returning_workers bigint not null,
    lapsed_workers bigint not null,
    primary key (period_month, regency_code, segment_code, funding_code)
);
comment on table dw.agg_churn_segment_month is
    'Coverage churn per month, regency, segment and funding source (a worker counts in each segment and funding source that covers them).';
