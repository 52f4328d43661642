-- audit.file_outcome: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

-- V007: validation outcome per file, beside audit.validation_run (per run,
-- source kind and month): what became of every file version received.
create view audit.file_outcome as
with reasons as (
    select file_id, jsonb_object_agg(reason, n order by reason) as quarantine_reasons
    from (
        select file_id, unnest(string_to_array(reason, ';')) as reason, count(*) as n
        from ingest.roster_row
        where status = 'quarantined'
        group by 1, 2
    ) as per_reason
    group by 1
),

states as (
    select file_id,
           count(*) filter (where status = 'loaded' and not superseded) as rows_loaded,
           count(*) filter (where status = 'quarantined' and not superseded) as rows_quarantined,
           count(*) filter (where status = 'duplicate' and not superseded) as rows_duplicate,
           count(*) filter (where superseded) as rows_superseded
    from ingest.roster_row
    group by 1
)

select f.file_id, f.source_kind, f.period_month, f.rel_path, f.status, f.error, f.modified_at, f.ingested_at,
       f.sheet, f.header_row, f.rows_read, f.footer_rows, f.empty_rows,
       coalesce(s.rows_loaded, 0) as rows_loaded, coalesce(s.rows_quarantined, 0) as rows_quarantined,
       coalesce(s.rows_duplicate, 0) as rows_duplicate, coalesce(s.rows_superseded, 0) as rows_superseded,
       coalesce(r.quarantine_reasons, '{}'::jsonb) as quarantine_reasons
from ingest.source_file as f
left join states as s using (file_id)
left join reasons as r using (file_id);

comment on view audit.file_outcome is 'Per file version: read or failed (with the reason), rows by state, and how many rows each quarantine reason hit. Counts only, no row values.';
