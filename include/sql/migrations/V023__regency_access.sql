-- Each regency sees its own. One warehouse serves a branch or a province
-- with several Pemkab; the isolation lives here, in PostgreSQL, so that it
-- holds for every BI tool and for SQL typed by hand. The mart views filter
-- their rows by access.visible_regency (include/sql/views/); a role that
-- access.grant_regency_reader() made reads those views for its regencies
-- only, while bi_reader (and the pipeline's own role) keep seeing all.
create schema if not exists access;
comment on schema access is
    'Who may see which regency in mart: scopes per role, and the function that grants them.';

create table access.regency_scope (
    role_name text not null,
    scope text not null check (scope in ('reader', 'caseworker')),
    regency_code text not null,
    granted_at timestamptz not null default now(),
    primary key (role_name, scope, regency_code)
);
comment on table access.regency_scope is
    'Regencies (4-digit Kemendagri codes) a role and its members may read: the mart views (scope reader, access.grant_regency_reader) or the follow-up lists (scope caseworker, access.grant_regency_caseworker).';

-- True for sessions that see every regency: members of bi_reader, and the
-- owner of mart (the pipeline role; superusers are members of every role).
create function access.sees_all() returns boolean
language sql stable
set search_path = pg_catalog
as $$
    select exists (select from pg_roles where rolname = 'bi_reader' and pg_has_role(current_user, oid, 'USAGE'))
        or pg_has_role(current_user, (select nspowner from pg_namespace where nspname = 'mart'), 'USAGE')
$$;
comment on function access.sees_all() is
    'Whether the current user reads every regency of mart (member of bi_reader, or of the role owning mart).';

create function access.grant_regency_reader(role_name text, regency_codes text[]) returns void
language plpgsql security definer
set search_path = pg_catalog
as $$
declare
    unknown text[];
begin
    if role_name is null or role_name !~ '^[a-z_][a-z0-9_]{0,62}$' then
        raise exception 'role name % is not a plain lower-case PostgreSQL name', coalesce(role_name, 'null');
    end if;
    if role_name in ('bi_reader', current_user) then
        raise exception 'role % already reads every regency', role_name;
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
    if exists (select from pg_roles where rolname = 'bi_reader' and pg_has_role(role_name, oid, 'MEMBER')) then
        raise exception 'role % is a member of bi_reader, which reads every regency: revoke that first', role_name;
    end if;
    execute format('grant usage on schema mart to %I', role_name);
    execute format('grant select on all tables in schema mart to %I', role_name);
    execute format('alter role %I set statement_timeout = %L', role_name, '120s');
    delete from access.regency_scope as s where s.role_name = grant_regency_reader.role_name and s.scope = 'reader';
    insert into access.regency_scope (role_name, scope, regency_code)
    select grant_regency_reader.role_name, 'reader', c from unnest(regency_codes) as c group by c;
end
$$;
comment on function access.grant_regency_reader(text, text[]) is
    'Create (NOLOGIN; set a password or grant it to a login later) or update a role that reads the mart views for these regencies only. Replaces the role''s earlier regencies.';
revoke all on function access.grant_regency_reader(text, text[]) from public;
