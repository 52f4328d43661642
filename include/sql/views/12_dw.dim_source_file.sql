-- dw.dim_source_file: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

-- ---------------------------------------------------------------- lineage
create view dw.dim_source_file as
select file_id, source_kind, period_month, rel_path, content_hash, status, modified_at, ingested_at, rows_read
from ingest.source_file;

comment on view dw.dim_source_file is 'Lineage: every version of every roster file received (no row contents). fact_submission.file_id points here.';
