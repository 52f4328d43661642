#!/usr/bin/env bash
# Runs once, when the warehouse volume is created: the warehouse's server
# settings (include/postgres/warehouse.conf, mounted read-only; applied when
# the entrypoint restarts the server after initialisation), and a login for
# BI tools that inherits bi_reader (created with its grants by the pipeline's
# migrations).
set -euo pipefail
echo "include_if_exists = '/etc/postgresql/ucj_warehouse.conf'" >> "$PGDATA/postgresql.conf"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
do \$\$ begin
  if not exists (select from pg_roles where rolname = 'bi_reader') then create role bi_reader nologin; end if;
  if not exists (select from pg_roles where rolname = 'bi') then
    create role bi login password '${BI_READER_PASSWORD}' in role bi_reader;
  end if;
end \$\$;
SQL
