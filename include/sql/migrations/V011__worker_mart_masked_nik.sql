-- V011: a worker mart with a masked NIK and a keyed NIK token, never the NIK.
--
-- nik_token is HMAC-SHA256(key, NIK). The key lives outside the warehouse
-- (Airflow connection ucj_nik_hmac, or UCJ_NIK_HMAC_KEY), so the token cannot
-- be reversed by hashing the ~10^4 NIKs a region and birth date leave: BPJS
-- can match its own membership data with the same key; nobody holding only
-- the warehouse can.

alter table identity.worker add column nik_token text;
comment on column identity.worker.nik_token is
    'HMAC-SHA256 of the NIK under a key kept outside the warehouse; null when no key was configured.';

create view mart.worker as
select
    w.worker_key,
    case when w.nik is not null then left(w.nik, 4) || '**********' || right(w.nik, 2) end as nik_masked,
    w.nik_token,
    w.gender
from identity.worker as w
where w.merged_into is null;

comment on view mart.worker is
    'One row per worker (merged keys excluded). No name, birth date or NIK: only a masked NIK and a keyed token.';
comment on column mart.worker.worker_key is 'Stable worker key, as in the other marts.';
comment on column mart.worker.nik_masked is 'NIK with its 10 middle digits hidden: province and regency code (4 digits) and the last 2 digits.';
comment on column mart.worker.nik_token is 'HMAC-SHA256 of the NIK under a key held outside the warehouse: joinable with data tokenised under the same key, not reversible without it.';
comment on column mart.worker.gender is 'L (male) or P (female), as reported.';

do $$
begin
    if exists (select from pg_roles where rolname = 'bi_reader') then
        execute 'grant select on mart.worker to bi_reader';
    end if;
end
$$;
