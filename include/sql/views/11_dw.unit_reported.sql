-- dw.unit_reported: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

-- A unit has reported a month when a roster of it is in force that month.
create view dw.unit_reported as
select s.period_month, u.source_kind, u.unit_key
from dw.fact_submission as s
join dw.dim_reporting_unit as u using (unit_sk);

comment on view dw.unit_reported is 'Units with a roster in force for a month (one row per unit and month).';
