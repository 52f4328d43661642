-- identity.worker_rows: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view identity.worker_rows as
select
    coalesce(w.merged_into, w.worker_key) as worker_key,
    l.worker_key as linked_worker_key,
    l.rule,
    l.score,
    l.linked_at,
    r.file_id,
    r.source_row,
    f.rel_path,
    r.period_month,
    r.source_kind,
    r.nik,
    r.full_name,
    r.birth_date,
    r.gender,
    r.village_code,
    r.unit_name
from identity.row_link as l
join identity.worker as w on w.worker_key = l.worker_key
join ingest.roster_row as r using (period_month, file_id, source_row)
join ingest.source_file as f on f.file_id = r.file_id;

comment on view identity.worker_rows is 'Every roster row a worker holds (through its own key or a key merged into it), with the link''s rule or score: what a reviewer checks before splitting rows off with identity.row_decision or undoing a merge with identity.keep_apart. Holds personal data.';
