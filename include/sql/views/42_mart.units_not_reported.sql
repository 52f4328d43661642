-- mart.units_not_reported: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view mart.units_not_reported with (security_barrier) as
select a.period_month, a.regency_code, e.source_kind, e.unit_code, e.unit_name
from dw.agg_regency_month as a
join dw.expected_unit as e on e.period_month = a.period_month and e.regency_code = a.regency_code
where not exists (
    select from dw.unit_reported as r
    where r.period_month = e.period_month and r.source_kind = e.source_kind and r.unit_key = e.unit_key
)
and ((select access.sees_all()) or a.regency_code in (select v.regency_code from access.visible_regency as v));

comment on view mart.units_not_reported is 'Reporting units expected but without a roster in force for the month: every village of a regency that reported anything, and every OPD or employer that reported in an earlier month.';
comment on column mart.units_not_reported.period_month is 'First day of the reporting month.';
comment on column mart.units_not_reported.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column mart.units_not_reported.source_kind is 'village, opd or employer.';
comment on column mart.units_not_reported.unit_code is 'Village code (10 digits), OPD code or employer NPP.';
comment on column mart.units_not_reported.unit_name is 'Village, OPD or employer name.';
