-- mart.ucj_regency_month: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

-- units_expected counts the same expected units.
create view mart.ucj_regency_month with (security_barrier) as
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
    end as rate_note,
    pub.first_published_at,
    exists(
        select from dw.ucj_revision as rev where rev.period_month = a.period_month and rev.regency_code = a.regency_code
    ) as revised
from dw.agg_regency_month as a
left join dw.published_figure as pub on pub.period_month = a.period_month and pub.regency_code = a.regency_code
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
) as x
-- Each regency sees its own (V023, access.visible_regency).
where (select access.sees_all()) or a.regency_code in (select v.regency_code from access.visible_regency as v);

comment on view mart.ucj_regency_month is 'UCJ (Universal Coverage Jamsostek) per regency and month: distinct covered workers / working population, against the target.';
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
comment on column mart.ucj_regency_month.first_published_at is 'When this regency-month''s figure was first published (for months loaded before revisions were recorded: when recording began).';
comment on column mart.ucj_regency_month.revised is 'True when covered_workers changed after it was first published; mart.ucj_revision says when, by how much and why.';
