-- mart.worker: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view mart.worker with (security_barrier) as
select
    w.worker_key,
    case when w.nik is not null then left(w.nik, 4) || '**********' || right(w.nik, 2) end as nik_masked,
    w.nik_token,
    w.gender
from identity.worker as w
where w.merged_into is null
  -- A regency's role sees the workers covered in one of its regencies.
  and ((select access.sees_all()) or w.worker_key in (
      select f.worker_key from dw.fact_coverage as f
      where f.regency_code in (select v.regency_code from access.visible_regency as v)));

comment on view mart.worker is 'One row per worker (merged keys excluded). No name, birth date or NIK: only a masked NIK and a keyed token.';
comment on column mart.worker.worker_key is 'Stable worker key, as in the other marts.';
comment on column mart.worker.nik_masked is 'NIK with its 10 middle digits hidden: province and regency code (4 digits) and the last 2 digits.';
comment on column mart.worker.nik_token is 'HMAC-SHA256 of the NIK under a key held outside the warehouse: joinable with data tokenised under the same key, not reversible without it.';
comment on column mart.worker.gender is 'L (male) or P (female), as reported.';
