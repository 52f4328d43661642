-- V008: the worker dimension (SCD type 2), source-file lineage for BI-side
-- analysts, and per-month aggregate tables so the marts answer from a few
-- thousand rows instead of counting distinct workers over the whole fact.

-- ---------------------------------------------------------------- worker
-- What each worker looked like in each month they appear in a roster (the
-- most recent file's values). The SCD2 versions are derived from it, which is
-- what makes loading months out of order (backfills) give the same versions.
create table identity.worker_month (
    period_month  date not null,
    worker_key    bigint not null,
    full_name     text,
    gender        char(1),
    birth_date    date,
    village_code  text,
    primary key (worker_key, period_month)
);
create index worker_month_period on identity.worker_month (period_month);
comment on table identity.worker_month is
    'Worker attributes as reported in each month (latest file in force wins). Source of dw.dim_worker versions. Holds personal data.';

create table dw.dim_worker (
    worker_sk          bigint generated always as identity primary key,
    worker_key         bigint not null,
    full_name          text,
    gender             char(1),
    birth_date         date,
    home_village_code  text,
    valid_from         date not null,
    valid_to           date,
    is_current         boolean not null,
    unique (worker_key, valid_from)
);
create index dim_worker_current on dw.dim_worker (worker_key) where is_current;
comment on table dw.dim_worker is
    'Worker dimension, slowly changing type 2 on name, gender, birth date and home village. worker_key is the durable business key used by the facts; a version is valid from valid_from (first month with these values) until valid_to (exclusive; null = current). Join a fact as: d.worker_key = f.worker_key and f.period_month >= d.valid_from and (d.valid_to is null or f.period_month < d.valid_to). Holds personal data; not readable by bi_reader.';
comment on column dw.dim_worker.worker_sk is 'Surrogate key of the version; kept when the version is rebuilt unchanged.';
comment on column dw.dim_worker.worker_key is 'Durable worker key (identity.worker), the key every fact carries.';
comment on column dw.dim_worker.home_village_code is 'Kemendagri village code of the worker''s village roster or address, when known.';

-- ---------------------------------------------------------------- lineage
create view dw.dim_source_file as
select file_id, source_kind, period_month, rel_path, content_hash, status, modified_at, ingested_at, rows_read
from ingest.source_file;
comment on view dw.dim_source_file is
    'Lineage: every version of every roster file received (no row contents). fact_submission.file_id points here.';

-- ---------------------------------------------------------------- aggregates
create table dw.agg_regency_month (
    period_month     date not null,
    regency_code     text not null,
    covered_workers  bigint not null,
    units_reported   bigint not null,
    primary key (period_month, regency_code)
);
create index agg_regency_month_regency on dw.agg_regency_month (regency_code, period_month);
comment on table dw.agg_regency_month is
    'Per month and regency with a roster in force: distinct covered workers and units reported. Replaced with the month by ucj.facts.load_period.';

create table dw.agg_coverage_program_month (
    period_month     date not null,
    regency_code     text not null,
    program_code     text not null,
    segment_code     text not null,
    funding_code     text not null,
    covered_workers  bigint not null,
    primary key (period_month, regency_code, program_code, segment_code, funding_code)
);
create index agg_coverage_program_month_regency on dw.agg_coverage_program_month (regency_code, period_month);
comment on table dw.agg_coverage_program_month is
    'Distinct covered workers per month, regency, program, segment and funding source. Replaced with the month by ucj.facts.load_period.';

-- Fill the aggregates for months loaded before this migration.
insert into dw.agg_regency_month (period_month, regency_code, covered_workers, units_reported)
select s.period_month, u.regency_code, coalesce(max(c.covered), 0), count(*)
from dw.fact_submission as s
join dw.dim_reporting_unit as u using (unit_sk)
left join (
    select period_month, regency_code, count(distinct worker_key) as covered
    from dw.fact_coverage group by 1, 2
) as c on c.period_month = s.period_month and c.regency_code = u.regency_code
group by s.period_month, u.regency_code;

insert into dw.agg_coverage_program_month
select period_month, regency_code, program_code, segment_code, funding_code, count(distinct worker_key)
from dw.fact_coverage
group by 1, 2, 3, 4, 5;

create index dim_reporting_unit_regency on dw.dim_reporting_unit (regency_code, source_kind, first_period);
create index dim_region_village_regency on dw.dim_region (regency_code) where level = 'village';

-- Same columns as before, now reading the aggregates; every lookup is keyed
-- by the row's regency so a filter on regency or month stays cheap.
create or replace view mart.ucj_regency_month as
select
    a.period_month,
    reg.province_code,
    prov.name as province_name,
    a.regency_code,
    reg.name as regency_name,
    a.covered_workers,
    p.working_population,
    round(100.0 * a.covered_workers / nullif(p.working_population, 0), 2) as ucj_rate_pct,
    t.ucj_target_pct,
    t.ucj_target_pct - round(100.0 * a.covered_workers / nullif(p.working_population, 0), 2) as gap_pct_points,
    a.units_reported,
    v.villages + k.other_units as units_expected,
    p.year as working_population_year,
    p.denominator as working_population_denominator,
    p.source as working_population_source,
    case
        when p.working_population is null then 'no cited working population for this regency'
        when reg.registered_population is not null and a.covered_workers > reg.registered_population
            then 'covered workers exceed registered population: data error'
    end as rate_note
from dw.agg_regency_month as a
join dw.dim_region as reg on reg.region_code = a.regency_code
join dw.dim_region as prov on prov.region_code = reg.province_code
left join lateral (
    -- The figure for that year, else the latest earlier one.
    select l.working_population, l.year, l.denominator, l.source
    from dw.labor_force as l
    where l.regency_code = a.regency_code
      and l.year <= extract(year from a.period_month)
      and l.working_population is not null
    order by l.year desc
    limit 1
) as p on true
left join dw.labor_force as t
    on t.regency_code = a.regency_code and t.year = extract(year from a.period_month)
cross join lateral (
    select count(*) as villages
    from dw.dim_region as v
    where v.level = 'village' and v.regency_code = a.regency_code
) as v
cross join lateral (
    select count(*) as other_units
    from dw.dim_reporting_unit as u
    where u.regency_code = a.regency_code and u.source_kind <> 'village' and u.first_period <= a.period_month
) as k;

create or replace view mart.coverage_program_month as
select period_month, regency_code, program_code, segment_code as segment, funding_code as funding_source,
       covered_workers
from dw.agg_coverage_program_month;
