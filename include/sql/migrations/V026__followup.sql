-- Who to follow up: workers covered last month and not this month, with who
-- they are, for branch staff (FGDs to bring people back into coverage).
-- Personal data, so outside mart: schema followup, readable by the
-- caseworker role (all regencies) and by roles made with
-- access.grant_regency_caseworker() (their regencies), never by bi_reader.
create schema if not exists followup;
comment on schema followup is
    'Lapsed workers with names, birth dates and masked NIKs for follow-up; personal data, for caseworkers only.';

create table followup.lapse (
    period_month date not null,
    regency_code text not null,
    worker_key bigint not null,
    reason text not null check (
        reason in ('status_non_aktif', 'enrollment_ended', 'unit_not_reported', 'dropped_from_snapshot')
    ),
    last_covered_month date not null,
    last_unit_sk bigint,
    primary key (period_month, regency_code, worker_key)
);
comment on table followup.lapse is
    'One row per worker covered in a regency last month and not this month, with the reason; rebuilt with the churn aggregates.';

do $$
begin
    if not exists (select from pg_roles where rolname = 'caseworker') then
        create role caseworker nologin;
    end if;
exception when insufficient_privilege then
    raise notice 'cannot create role caseworker (no CREATEROLE); a DBA creates it and reruns the grants';
end
$$;

do $$
begin
    if exists (select from pg_roles where rolname = 'bi_reader') then
        execute 'revoke all on schema followup from bi_reader';
    end if;
end
$$;

create function access.sees_all_followup() returns boolean
language sql stable
set search_path = pg_catalog
as $$
    select exists (select from pg_roles where rolname = 'caseworker' and pg_has_role(current_user, oid, 'USAGE'))
        or pg_has_role(current_user, (select nspowner from pg_namespace where nspname = 'followup'), 'USAGE')
$$;
comment on function access.sees_all_followup() is
    'Whether the current user reads the follow-up lists of every regency (member of caseworker, or of the role owning followup).';

create function access.grant_regency_caseworker(role_name text, regency_codes text[]) returns void
language plpgsql security definer
set search_path = pg_catalog
as $$
declare
    unknown text[];
begin
    if role_name is null or role_name !~ '^[a-z_][a-z0-9_]{0,62}$' then
        raise exception 'role name % is not a plain lower-case PostgreSQL name', coalesce(role_name, 'null');
    end if;
    if role_name in ('caseworker', 'bi_reader', current_user) then
        raise exception 'role % cannot be limited to regencies', role_name;
    end if;
    select array_agg(c order by c) into unknown
    from unnest(regency_codes) as c
    where not exists (select from dw.dim_region as r where r.level = 'regency' and r.region_code = c);
    if unknown is not null then
        raise exception 'unknown regency codes (4 digits, Kemendagri, without dots): %', unknown;
    end if;
    if not exists (select from pg_roles where rolname = role_name) then
        execute format('create role %I nologin', role_name);
    end if;
    if exists (select from pg_roles where rolname = 'caseworker' and pg_has_role(role_name, oid, 'MEMBER')) then
        raise exception 'role % is a member of caseworker, which reads every regency: revoke that first', role_name;
    end if;
    execute format('grant usage on schema followup to %I', role_name);
    -- The list only: followup.lapse itself is not filtered by regency.
    execute format('grant select on followup.lapsed_worker to %I', role_name);
    execute format('alter role %I set statement_timeout = %L', role_name, '120s');
    delete from access.regency_scope as s
    where s.role_name = grant_regency_caseworker.role_name and s.scope = 'caseworker';
    insert into access.regency_scope (role_name, scope, regency_code)
    select grant_regency_caseworker.role_name, 'caseworker', c from unnest(regency_codes) as c group by c;
end
$$;
comment on function access.grant_regency_caseworker(text, text[]) is
    'Create (NOLOGIN) or update a role that reads the follow-up lists (schema followup) for these regencies only. Replaces the role''s earlier caseworker regencies; its mart regencies are granted apart (grant_regency_reader).';
revoke all on function access.grant_regency_caseworker(text, text[]) from public;
