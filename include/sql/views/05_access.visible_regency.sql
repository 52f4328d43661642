-- access.visible_regency: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

-- The regencies the current user may read through a scope of one of its roles
-- (access.grant_regency_reader). The mart views let a row through when
-- access.sees_all() or its regency is listed here.
create view access.visible_regency as
select distinct s.regency_code
from access.regency_scope as s
join pg_catalog.pg_roles as g on g.rolname = s.role_name
where s.scope = 'reader' and pg_catalog.pg_has_role(current_user, g.oid, 'USAGE');

comment on view access.visible_regency is 'Regencies the current user reads in mart through the scope of a role it belongs to (empty for users without one; access.sees_all() users read every regency).';
