-- A BI login cannot hold the warehouse with a runaway query: every session of
-- a role that inherits bi_reader's settings gets a statement timeout. (Role
-- settings apply to the login role itself, so deploy/warehouse-init.sh sets it
-- on the `bi` login too; this is the default for logins made by hand with
-- `set role bi_reader` or `in role bi_reader`.) Needs CREATEROLE, as V002 did
-- to create the role; without it the DBA runs this statement.
do $$
begin
    if exists (select from pg_roles where rolname = 'bi_reader') then
        alter role bi_reader set statement_timeout = '120s';
        alter role bi_reader set idle_in_transaction_session_timeout = '10min';
    end if;
exception when insufficient_privilege then
    raise notice 'cannot set bi_reader''s statement_timeout (no CREATEROLE); a DBA runs: alter role bi_reader set statement_timeout = ''120s''';
end
$$;
