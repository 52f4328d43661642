-- One home for what both regency grants check and do: the role's name, the
-- roles that read every regency, the codes, role creation and the scope rows.
-- access.grant_regency_reader() and access.grant_regency_caseworker() keep
-- their signatures and messages; only their own grants stay in them.
create function access.prepare_scoped_role(
    role_name text, regency_codes text[], scope text, everyone_role text
) returns void
language plpgsql
set search_path = pg_catalog
as $$
declare
    unknown text[];
begin
    if role_name is null or role_name !~ '^[a-z_][a-z0-9_]{0,62}$' then
        raise exception 'role name % is not a plain lower-case PostgreSQL name', coalesce(role_name, 'null');
    end if;
    if role_name in (everyone_role, 'bi_reader', current_user) then
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
    if exists (select from pg_roles where rolname = everyone_role and pg_has_role(role_name, oid, 'MEMBER')) then
        raise exception 'role % is a member of %, which reads every regency: revoke that first',
            role_name, everyone_role;
    end if;
    execute format('alter role %I set statement_timeout = %L', role_name, '120s');
    delete from access.regency_scope as s
    where s.role_name = prepare_scoped_role.role_name and s.scope = prepare_scoped_role.scope;
    insert into access.regency_scope (role_name, scope, regency_code)
    select prepare_scoped_role.role_name, prepare_scoped_role.scope, c from unnest(regency_codes) as c group by c;
end
$$;
comment on function access.prepare_scoped_role(text, text[], text, text) is
    'Shared by the regency grants: check the role name and codes, create the role (NOLOGIN) if missing, refuse members of everyone_role, and replace the role''s regencies of this scope.';
revoke all on function access.prepare_scoped_role(text, text[], text, text) from public;

create or replace function access.grant_regency_reader(role_name text, regency_codes text[]) returns void
language plpgsql security definer
set search_path = pg_catalog
as $$
begin
    perform access.prepare_scoped_role(role_name, regency_codes, 'reader', 'bi_reader');
    execute format('grant usage on schema mart to %I', role_name);
    execute format('grant select on all tables in schema mart to %I', role_name);
end
$$;

create or replace function access.grant_regency_caseworker(role_name text, regency_codes text[]) returns void
language plpgsql security definer
set search_path = pg_catalog
as $$
begin
    perform access.prepare_scoped_role(role_name, regency_codes, 'caseworker', 'caseworker');
    execute format('grant usage on schema followup to %I', role_name);
    -- The list only: followup.lapse itself is not filtered by regency.
    execute format('grant select on followup.lapsed_worker to %I', role_name);
end
$$;
