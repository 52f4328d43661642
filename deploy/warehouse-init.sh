#!/usr/bin/env bash
# Runs once, when the warehouse volume is created: the warehouse's server
# settings (include/postgres/warehouse.conf, mounted read-only; applied when
# the entrypoint restarts the server after initialisation); the pipeline's
# own role, which owns the database and so every schema its migrations
# create, but is no superuser; and a login for BI tools that inherits
# bi_reader (granted by the pipeline's migrations), with a statement timeout.
# POSTGRES_USER is the superuser, for the DBA only.
set -euo pipefail
echo "include_if_exists = '/etc/postgresql/ucj_warehouse.conf'" >> "$PGDATA/postgresql.conf"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pipeline_user="$WAREHOUSE_USER" -v pipeline_password="$WAREHOUSE_PASSWORD" \
  -v bi_password="$BI_READER_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
select format('create role %I login nosuperuser nocreatedb createrole password %L', :'pipeline_user',
              :'pipeline_password')
where not exists (select from pg_roles where rolname = :'pipeline_user') \gexec
alter database :"db" owner to :"pipeline_user";
alter schema public owner to :"pipeline_user";
select 'create role bi_reader nologin' where not exists (select from pg_roles where rolname = 'bi_reader') \gexec
grant bi_reader to :"pipeline_user" with admin option;
select format('create role bi login password %L in role bi_reader', :'bi_password')
where not exists (select from pg_roles where rolname = 'bi') \gexec
alter role bi set statement_timeout = '120s';
alter role bi set idle_in_transaction_session_timeout = '10min';
SQL
