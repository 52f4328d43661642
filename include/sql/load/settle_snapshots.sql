-- Which rows are in force for one source kind and period (CONTRACT.md §1).
-- A file is a full snapshot of every unit in it: for each unit the latest
-- file (modification time, then path) wins and earlier rows of that unit are
-- superseded. Rows of a replaced file version are superseded whole. Rows
-- without a known unit are never superseded by another file.
with files as (
    select file_id, rel_path, modified_at, status
    from ingest.source_file
    where source_kind = %(kind)s and period_month = %(period)s
),

unit_files as (
    select distinct r.unit_key, r.file_id, f.modified_at, f.rel_path
    from ingest.roster_row as r
    join files as f using (file_id)
    where r.source_kind = %(kind)s and r.period_month = %(period)s
      and f.status = 'loaded' and r.unit_key is not null
),

winner as (
    select distinct on (unit_key) unit_key, file_id
    from unit_files
    order by unit_key, modified_at desc, rel_path desc
),

target as (
    select r.file_id, r.source_row,
           f.status = 'replaced' or (w.file_id is not null and w.file_id <> r.file_id) as superseded
    from ingest.roster_row as r
    join files as f using (file_id)
    left join winner as w on w.unit_key = r.unit_key
    where r.source_kind = %(kind)s and r.period_month = %(period)s
)

update ingest.roster_row as r
set superseded = t.superseded
from target as t
where r.file_id = t.file_id and r.source_row = t.source_row and r.superseded is distinct from t.superseded;
