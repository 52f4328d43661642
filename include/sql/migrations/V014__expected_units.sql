-- V014: one definition of "the units a regency is expected to hear from in a
-- month", read by mart.units_not_reported and by the reporting-deadline check
-- (include/sql/checks/missing_units.sql), which had each spelled it out.
--
-- Expected: every village of the regency (Kemendagri list), and every OPD
-- and employer of the regency that had reported by that month. Which
-- regencies are asked is the reader's choice: the mart asks those that
-- reported in the month, the deadline check also those that reported the
-- month before and went silent.

create view dw.expected_unit as
select m.period_month, v.regency_code, 'village'::text as source_kind, v.region_code as unit_key,
       v.region_code as unit_code, v.name as unit_name
from dw.dim_month as m
join dw.dim_region as v on v.level = 'village'
union all
select m.period_month, u.regency_code, u.source_kind, u.unit_key, u.unit_code, u.unit_name
from dw.dim_month as m
join dw.dim_reporting_unit as u on u.source_kind <> 'village' and u.first_period <= m.period_month;

comment on view dw.expected_unit is
    'Units a regency is expected to send a roster for in a month: all its villages, and its OPDs and employers first seen in or before that month. Filter on period_month and regency_code.';

-- A unit has reported a month when a roster of it is in force that month.
create view dw.unit_reported as
select s.period_month, u.source_kind, u.unit_key
from dw.fact_submission as s
join dw.dim_reporting_unit as u using (unit_sk);

comment on view dw.unit_reported is
    'Units with a roster in force for a month (one row per unit and month).';

create or replace view mart.units_not_reported as
select a.period_month, a.regency_code, e.source_kind, e.unit_code, e.unit_name
from dw.agg_regency_month as a
join dw.expected_unit as e on e.period_month = a.period_month and e.regency_code = a.regency_code
where not exists (
    select from dw.unit_reported as r
    where r.period_month = e.period_month and r.source_kind = e.source_kind and r.unit_key = e.unit_key
);

-- units_expected counts the same expected units.
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
    x.units_expected,
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
    select count(*) as units_expected
    from dw.expected_unit as e
    where e.period_month = a.period_month and e.regency_code = a.regency_code
) as x;

comment on column identity.row_link.rule is
    'What linked the row: nik (same NIK, agreeing name or birth date), name_birth_date (same name key and birth date, compatible NIKs), new (the row created the worker), reviewer (moved by identity.row_decision). Merges between workers are in identity.worker_merge.';
