-- dw.expected_unit: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view dw.expected_unit as
select m.period_month, v.regency_code, 'village'::text as source_kind, v.region_code as unit_key,
       v.region_code as unit_code, v.name as unit_name
from dw.dim_month as m
join dw.dim_region as v on v.level = 'village'
union all
select m.period_month, u.regency_code, u.source_kind, u.unit_key, u.unit_code, u.unit_name
from dw.dim_month as m
join dw.dim_reporting_unit as u on u.source_kind <> 'village' and u.first_period <= m.period_month;

comment on view dw.expected_unit is 'Units a regency is expected to send a roster for in a month: all its villages, and its OPDs and employers first seen in or before that month. Filter on period_month and regency_code.';
