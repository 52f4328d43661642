-- mart.ucj_revision: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view mart.ucj_revision with (security_barrier) as
select
    r.period_month,
    r.regency_code,
    reg.name as regency_name,
    r.covered_workers_before,
    r.covered_workers_after,
    r.covered_workers_after - r.covered_workers_before as covered_workers_change,
    r.revised_at,
    r.cause,
    r.dag_id,
    r.run_id
from dw.ucj_revision as r
join dw.dim_region as reg on reg.region_code = r.regency_code
-- Each regency sees its own (V023, access.visible_regency).
where (select access.sees_all()) or r.regency_code in (select v.regency_code from access.visible_regency as v);

comment on view mart.ucj_revision is 'One row per change of a published regency-month figure (covered_workers), as statistics offices publish revisions: when, by how much and why.';
comment on column mart.ucj_revision.period_month is 'The month whose figure changed (first day).';
comment on column mart.ucj_revision.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.ucj_revision.regency_name is 'Regency/city name (Kemendagri).';
comment on column mart.ucj_revision.covered_workers_before is 'covered_workers as published before this revision.';
comment on column mart.ucj_revision.covered_workers_after is 'covered_workers after it (0: the regency no longer has covered workers that month).';
comment on column mart.ucj_revision.covered_workers_change is 'covered_workers_after - covered_workers_before.';
comment on column mart.ucj_revision.revised_at is 'When the revised figure was published.';
comment on column mart.ucj_revision.cause is 'identity_merge (rows found to be one person merged workers), identity_split (a reviewer split a worker or kept two apart), review_decision (a reviewer accepted a pair), late_file (a new file for the month), corrected_file (a file replaced an earlier version), reference_change (reference data or the rows'' interpretation changed).';
comment on column mart.ucj_revision.dag_id is 'The Airflow DAG whose run published the revision (ucj_consolidate).';
comment on column mart.ucj_revision.run_id is 'The Airflow run that published the revision.';
