-- Churn in proportion to what changed: the refresh keeps its own copy of who
-- was covered where (dw.churn_covered) and the months it counted
-- (dw.churn_month); loads say which months or which workers of a month they
-- changed (dw.churn_pending). The refresh then reads only those, finds the
-- workers whose coverage moved, and changes the churn aggregates and the
-- lapse list by what those workers counted before and after
-- (include/sql/load/refresh_churn.sql).
--
-- The churn's own copy is derived state, so it is UNLOGGED (half the write
-- cost of a month's rows). A crash empties it; the next refresh then finds
-- every loaded month missing from dw.churn_month and counts them all afresh,
-- aggregates included (dw.churn_pending, which loads write, stays logged).

create unlogged table dw.churn_covered (
    regency_code text not null,
    worker_key bigint not null,
    period_month date not null,
    segment_code text not null,
    funding_code text not null,
    primary key (regency_code, worker_key, period_month, segment_code, funding_code)
);
create index churn_covered_month on dw.churn_covered (period_month, worker_key);
comment on table dw.churn_covered is
    'Who the churn aggregates counted as covered: one row per regency, worker, month, segment and funding source, as dw.fact_coverage held them at the last churn refresh.';

-- Each pair's first covered month: whether a worker is new in a month needs
-- only this, not the pair's whole history.
create unlogged table dw.churn_first (
    regency_code text not null,
    worker_key bigint not null,
    first_month date not null,
    primary key (regency_code, worker_key)
);
comment on table dw.churn_first is
    'The first month dw.churn_covered covers each worker in each regency.';

create unlogged table dw.churn_segment_first (
    regency_code text not null,
    segment_code text not null,
    funding_code text not null,
    worker_key bigint not null,
    first_month date not null,
    primary key (regency_code, segment_code, funding_code, worker_key)
);
comment on table dw.churn_segment_first is
    'The first month dw.churn_covered covers each worker in each regency, segment and funding source.';

create unlogged table dw.churn_month (
    period_month date primary key
);
comment on table dw.churn_month is
    'The loaded months the churn aggregates counted at their last refresh (a lapse is counted only into a loaded month).';

create table dw.churn_pending (
    period_month date not null,
    worker_key bigint
);
create index churn_pending_month on dw.churn_pending (period_month);
comment on table dw.churn_pending is
    'What changed in dw.fact_coverage since the last churn refresh: worker_key null, the whole month was reloaded; otherwise that worker''s facts of the month moved (merges). Written in the load''s transaction, consumed by the refresh.';

-- The first refresh counts every loaded month afresh (its last result records no refresh_churn.sql
-- checksum, and dw.churn_month is empty), replacing the aggregates rebuilt the old way.
delete from meta.stage_fingerprint where stage = 'churn';

comment on table dw.agg_churn_month is
    'Coverage churn per month and regency: new, continuing, returning and lapsed workers, lapses by reason. Changed by refresh_churn by what the workers whose coverage changed count before and after.';
comment on table followup.lapse is
    'One row per worker covered in a regency last month and not this month, with the reason; kept up with the churn aggregates (include/sql/load/refresh_churn.sql).';
