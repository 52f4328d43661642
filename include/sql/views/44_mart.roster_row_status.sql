-- mart.roster_row_status: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

create view mart.roster_row_status with (security_barrier) as
select
    r.source_kind,
    f.rel_path as source_file,
    r.source_row,
    r.period_month,
    case when r.superseded then 'superseded' else r.status end as status,
    case when r.status = 'quarantined' and not r.superseded then r.reason end as reason,
    case when r.status in ('loaded', 'duplicate') then coalesce(w.merged_into, l.worker_key) end as worker_key,
    f.file_id,
    f.modified_at as file_modified_at,
    case when f.published_at is null then 'held' else 'published' end as publication,
    f.published_at,
    f.published_by,
    f.content_hash as file_content_hash
from ingest.roster_row as r
join ingest.source_file as f using (file_id)
left join identity.row_link as l
    on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row
left join identity.worker as w on w.worker_key = l.worker_key
-- A row without a readable regency code is seen by bi_reader only.
where (select access.sees_all()) or r.regency_code in (select v.regency_code from access.visible_regency as v);

comment on view mart.roster_row_status is 'Every roster row ever received and what became of it: loaded, quarantined (with reason), duplicate (an identical row earlier in the same file) or superseded (a later file replaced the unit).';
comment on column mart.roster_row_status.source_kind is 'opd, village or employer.';
comment on column mart.roster_row_status.source_file is 'Path of the file relative to the landing root.';
comment on column mart.roster_row_status.source_row is 'Row number as seen in Excel (CSV: line number).';
comment on column mart.roster_row_status.period_month is 'First day of the reporting month (from the landing folder).';
comment on column mart.roster_row_status.status is 'loaded, quarantined, duplicate or superseded.';
comment on column mart.roster_row_status.reason is 'Why the row was quarantined: codes separated by ";" (e.g. invalid_birth_date;no_known_program). Null otherwise.';
comment on column mart.roster_row_status.worker_key is 'The worker this row belongs to (stable across runs); null for quarantined rows.';
comment on column mart.roster_row_status.file_id is 'Internal id of the file version in this warehouse (ingest lineage). Not reproducible: two warehouses loading the same files number them differently. To refer to a row, use (source_file, file_content_hash, source_row).';
comment on column mart.roster_row_status.file_modified_at is 'Modification time of the file version.';
comment on column mart.roster_row_status.publication is 'published: the row''s file counts in the marts; held: its source kind and month failed validation and waits for a data steward''s approval (or a fixed file), so the marts still show the last published state.';
comment on column mart.roster_row_status.published_at is 'When the row''s file started to count in the marts (null while held).';
comment on column mart.roster_row_status.published_by is '''validation'' (passed every expectation) or the Airflow user who approved publication.';
comment on column mart.roster_row_status.file_content_hash is 'SHA-256 of the file version''s bytes: with source_file and source_row, the stable reference to a row, the same in every warehouse that loaded the same file.';
