-- V002: the views BI tools read (CONTRACT.md §5) and the bi_reader role.

create view mart.ucj_regency_month as
with submissions as (
    select s.period_month, u.regency_code, count(*) as units_reported
    from dw.fact_submission as s
    join dw.dim_reporting_unit as u using (unit_sk)
    group by 1, 2
),

covered as (
    select period_month, regency_code, count(distinct worker_key) as covered_workers
    from dw.fact_coverage
    group by 1, 2
),

-- Units a regency should hear from: all its villages (Kemendagri list) and
-- every OPD and employer that has ever reported up to that month.
expected_villages as (
    select regency_code, count(*) as villages
    from dw.dim_region
    where level = 'village'
    group by 1
),

known_units as (
    select s.period_month, s.regency_code, count(k.unit_sk) as other_units
    from submissions as s
    left join dw.dim_reporting_unit as k
        on k.regency_code = s.regency_code
        and k.source_kind <> 'village'
        and k.first_period <= s.period_month
    group by 1, 2
),

-- Working population: the figure for that year, else the latest earlier one
-- (working_population_year says which). Target: that year only.
population as (
    select s.period_month, s.regency_code, lf.working_population, lf.year as working_population_year,
           lf.denominator, lf.source
    from submissions as s
    left join lateral (
        select l.working_population, l.year, l.denominator, l.source
        from dw.labor_force as l
        where l.regency_code = s.regency_code
          and l.year <= extract(year from s.period_month)
          and l.working_population is not null
        order by l.year desc
        limit 1
    ) as lf on true
),

target as (
    select regency_code, year, ucj_target_pct
    from dw.labor_force
    where ucj_target_pct is not null
),

final as (
    select
        s.period_month,
        reg.province_code,
        prov.name as province_name,
        s.regency_code,
        reg.name as regency_name,
        coalesce(c.covered_workers, 0) as covered_workers,
        p.working_population,
        round(100.0 * coalesce(c.covered_workers, 0) / nullif(p.working_population, 0), 2) as ucj_rate_pct,
        t.ucj_target_pct,
        t.ucj_target_pct
            - round(100.0 * coalesce(c.covered_workers, 0) / nullif(p.working_population, 0), 2) as gap_pct_points,
        s.units_reported,
        coalesce(v.villages, 0) + k.other_units as units_expected,
        p.working_population_year,
        p.denominator as working_population_denominator,
        p.source as working_population_source,
        case
            when p.working_population is null then 'no cited working population for this regency'
            when reg.registered_population is not null and c.covered_workers > reg.registered_population
                then 'covered workers exceed registered population: data error'
        end as rate_note
    from submissions as s
    join dw.dim_region as reg on reg.region_code = s.regency_code
    join dw.dim_region as prov on prov.region_code = reg.province_code
    left join covered as c on c.period_month = s.period_month and c.regency_code = s.regency_code
    left join population as p on p.period_month = s.period_month and p.regency_code = s.regency_code
    left join target as t on t.regency_code = s.regency_code and t.year = extract(year from s.period_month)
    left join expected_villages as v on v.regency_code = s.regency_code
    left join known_units as k on k.period_month = s.period_month and k.regency_code = s.regency_code
)

select * from final;

comment on view mart.ucj_regency_month is
    'UCJ (Universal Coverage Jamsostek) per regency and month: distinct covered workers / working population, against the target.';
comment on column mart.ucj_regency_month.period_month is 'First day of the reporting month.';
comment on column mart.ucj_regency_month.province_code is 'Kemendagri province code (2 digits).';
comment on column mart.ucj_regency_month.province_name is 'Province name (Kemendagri).';
comment on column mart.ucj_regency_month.regency_code is 'Kemendagri regency/city code, 4 digits without dot (13.10 -> 1310).';
comment on column mart.ucj_regency_month.regency_name is 'Regency/city name (Kemendagri).';
comment on column mart.ucj_regency_month.covered_workers is 'Distinct workers (after identity resolution) covered by at least one program at the end of the month, counted once per regency.';
comment on column mart.ucj_regency_month.working_population is 'Working population (UCJ denominator) for the year, or the latest earlier year; null when no cited figure exists.';
comment on column mart.ucj_regency_month.ucj_rate_pct is 'covered_workers / working_population * 100, 2 decimals; null without a denominator.';
comment on column mart.ucj_regency_month.ucj_target_pct is 'UCJ target for the year in percent, where one is cited.';
comment on column mart.ucj_regency_month.gap_pct_points is 'ucj_target_pct - ucj_rate_pct: percentage points still to go (negative = above target).';
comment on column mart.ucj_regency_month.units_reported is 'Reporting units (OPD, villages, employers) with a roster in force for the month.';
comment on column mart.ucj_regency_month.units_expected is 'All villages of the regency plus every OPD and employer that has reported up to the month.';
comment on column mart.ucj_regency_month.working_population_year is 'Year of the working-population figure used.';
comment on column mart.ucj_regency_month.working_population_denominator is 'Which denominator: BPS_EMPLOYED (Sakernas employed 15+) or BPJS_POTENSI (BPJS target workers).';
comment on column mart.ucj_regency_month.working_population_source is 'Where the working-population figure was published.';
comment on column mart.ucj_regency_month.rate_note is 'Why the rate is missing or suspect; null when neither.';

create view mart.coverage_program_month as
select period_month, regency_code, program_code, segment_code as segment, funding_code as funding_source,
       count(distinct worker_key) as covered_workers
from dw.fact_coverage
group by 1, 2, 3, 4, 5;

comment on view mart.coverage_program_month is
    'Covered workers per month, regency, program (JKK, JKM, JHT, JP, JKP), segment (PU, BPU, JAKON, PMI) and funding source.';
comment on column mart.coverage_program_month.period_month is 'First day of the reporting month.';
comment on column mart.coverage_program_month.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.coverage_program_month.program_code is 'BPJS Ketenagakerjaan program: JKK, JKM, JHT, JP or JKP.';
comment on column mart.coverage_program_month.segment is 'PU wage earners, BPU informal workers, JAKON construction, PMI migrant workers.';
comment on column mart.coverage_program_month.funding_source is 'Who pays the contribution: APBD, APBDES, DBH_SAWIT, BAZNAS, CSR, EMPLOYER, SELF or UNKNOWN.';
comment on column mart.coverage_program_month.covered_workers is 'Distinct workers covered for the program at the end of the month.';

create view mart.roster_row_status as
select
    r.source_kind,
    f.rel_path as source_file,
    r.source_row,
    r.period_month,
    case when r.superseded then 'superseded' else r.status end as status,
    case when r.status = 'quarantined' and not r.superseded then r.reason end as reason,
    case when r.status in ('loaded', 'duplicate') then coalesce(w.merged_into, l.worker_key) end as worker_key,
    f.file_id,
    f.modified_at as file_modified_at
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
left join identity.row_link as l using (file_id, source_row)
left join identity.worker as w on w.worker_key = l.worker_key;

comment on view mart.roster_row_status is
    'Every roster row ever received and what became of it: loaded, quarantined (with reason), duplicate (an identical row earlier in the same file) or superseded (a later file replaced the unit).';
comment on column mart.roster_row_status.source_kind is 'opd, village or employer.';
comment on column mart.roster_row_status.source_file is 'Path of the file relative to the landing root.';
comment on column mart.roster_row_status.source_row is 'Row number as seen in Excel (CSV: line number).';
comment on column mart.roster_row_status.period_month is 'First day of the reporting month (from the landing folder).';
comment on column mart.roster_row_status.status is 'loaded, quarantined, duplicate or superseded.';
comment on column mart.roster_row_status.reason is 'Why the row was quarantined: codes separated by ";" (e.g. invalid_birth_date;no_known_program). Null otherwise.';
comment on column mart.roster_row_status.worker_key is 'The worker this row belongs to (stable across runs); null for quarantined rows.';
comment on column mart.roster_row_status.file_id is 'Version of the source file (ingest lineage).';
comment on column mart.roster_row_status.file_modified_at is 'Modification time of the file version.';

-- bi_reader: reads mart and nothing else. Creating roles needs CREATEROLE;
-- where the migrating user lacks it, a DBA creates the role and grants.
do $$
begin
    if not exists (select from pg_roles where rolname = 'bi_reader') then
        create role bi_reader nologin;
    end if;
exception when insufficient_privilege then
    raise notice 'cannot create role bi_reader (no CREATEROLE); create it and rerun the grants';
end
$$;

do $$
begin
    if exists (select from pg_roles where rolname = 'bi_reader') then
        execute 'revoke all on schema ingest, identity, dw, audit, meta from bi_reader';
        execute 'grant usage on schema mart to bi_reader';
        execute 'grant select on all tables in schema mart to bi_reader';
        execute 'alter default privileges in schema mart grant select on tables to bi_reader';
    end if;
end
$$;
