-- Views are no longer written in migrations: each has one file under
-- include/sql/views/, and migrate() re-creates them all when any file's
-- checksum differs from what is recorded here (Flyway's repeatable
-- migrations). Migrations from V021 on hold tables, indexes and data only.
create table meta.view_definition (
    view_name text primary key,
    file_name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);
comment on table meta.view_definition is
    'The view files of include/sql/views as last applied by migrate(); a differing checksum re-creates every view.';

-- Which reference files (regions, working population) were last loaded;
-- created by the loader itself before V021.
create table if not exists meta.reference_load (
    name text primary key,
    checksum text not null
);
comment on table meta.reference_load is
    'Checksum of the reference files behind each reference dimension as last loaded; unchanged files are not reloaded.';
