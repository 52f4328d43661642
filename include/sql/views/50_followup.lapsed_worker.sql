-- followup.lapsed_worker: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view followup.lapsed_worker with (security_barrier) as
select
    l.period_month,
    l.regency_code,
    u.source_kind as last_unit_kind,
    u.unit_code as last_unit_code,
    u.unit_name as last_unit_name,
    l.worker_key,
    coalesce(d.full_name, w.display_name) as full_name,
    w.birth_date,
    case when w.nik is not null then left(w.nik, 4) || '**********' || right(w.nik, 2) end as nik_masked,
    l.last_covered_month,
    l.reason
from followup.lapse as l
join identity.worker as w on w.worker_key = l.worker_key
left join dw.dim_worker as d on d.worker_key = l.worker_key and d.is_current
left join dw.dim_reporting_unit as u on u.unit_sk = l.last_unit_sk
where (select access.sees_all_followup())
   or l.regency_code in (select v.regency_code from access.visible_caseworker_regency as v);

comment on view followup.lapsed_worker is 'Workers covered in a regency last month and not this month, per reporting unit, for branch staff to follow up. Personal data: readable by caseworker roles only.';
comment on column followup.lapsed_worker.period_month is 'The month the worker is no longer covered (first day).';
comment on column followup.lapsed_worker.regency_code is 'Kemendagri regency code, 4 digits.';
comment on column followup.lapsed_worker.last_unit_kind is 'opd, village or employer: the kind of unit that last covered the worker.';
comment on column followup.lapsed_worker.last_unit_code is 'Code of the unit that last covered the worker (village code, OPD code or NPP).';
comment on column followup.lapsed_worker.last_unit_name is 'Name of that unit.';
comment on column followup.lapsed_worker.worker_key is 'Stable worker key, as in the marts.';
comment on column followup.lapsed_worker.full_name is 'The worker''s name as last reported.';
comment on column followup.lapsed_worker.birth_date is 'Birth date.';
comment on column followup.lapsed_worker.nik_masked is 'NIK with its 10 middle digits hidden.';
comment on column followup.lapsed_worker.last_covered_month is 'The last month the worker was covered in this regency.';
comment on column followup.lapsed_worker.reason is 'status_non_aktif, enrollment_ended, unit_not_reported or dropped_from_snapshot (mart.coverage_churn_month says what each means).';
