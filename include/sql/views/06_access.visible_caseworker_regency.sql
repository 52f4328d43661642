-- access.visible_caseworker_regency: the view's whole current definition. Edit here; migrate() re-creates every
-- view when any view file changes (include/sql/views/README.md).

-- The regencies whose follow-up lists the current user reads through a
-- caseworker scope of one of its roles (access.grant_regency_caseworker).
create view access.visible_caseworker_regency as
select distinct s.regency_code
from access.regency_scope as s
join pg_catalog.pg_roles as g on g.rolname = s.role_name
where s.scope = 'caseworker' and pg_catalog.pg_has_role(current_user, g.oid, 'USAGE');

comment on view access.visible_caseworker_regency is 'Regencies whose follow-up lists the current user reads through a caseworker scope of one of its roles (access.sees_all_followup() users read every regency).';
