-- mart.coverage_program_month: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view mart.coverage_program_month with (security_barrier) as
select period_month, regency_code, program_code, segment_code as segment, funding_code as funding_source,
       covered_workers
from dw.agg_coverage_program_month
where (select access.sees_all()) or regency_code in (select v.regency_code from access.visible_regency as v);

comment on view mart.coverage_program_month is 'Covered workers per month, regency, program (JKK, JKM, JHT, JP, JKP), segment (PU, BPU, JAKON, PMI) and funding source.';
comment on column mart.coverage_program_month.period_month is 'First day of the reporting month.';
comment on column mart.coverage_program_month.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.coverage_program_month.program_code is 'BPJS Ketenagakerjaan program: JKK, JKM, JHT, JP or JKP.';
comment on column mart.coverage_program_month.segment is 'PU wage earners, BPU informal workers, JAKON construction, PMI migrant workers.';
comment on column mart.coverage_program_month.funding_source is 'Who pays the contribution: APBD, APBDES, DBH_SAWIT, BAZNAS, CSR, EMPLOYER, SELF or UNKNOWN.';
comment on column mart.coverage_program_month.covered_workers is 'Distinct workers covered for the program at the end of the month.';
