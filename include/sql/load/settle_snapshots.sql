-- Which rows are in force for one source kind and period (CONTRACT.md §1),
-- as published.
-- A file is a full snapshot of every unit in it: for each unit the latest
-- file (modification time, then path) wins and earlier rows of that unit are
-- superseded. Rows of a replaced file version are superseded whole. Rows
-- without a known unit are never superseded by another file.
--
-- Only a unit sent in more than one file has a winner to pick, and only rows
-- whose state changes are written, so a month where every unit came once
-- (the usual case) costs one pass over its rows.
set local work_mem = '256MB';

-- Only published files count (write-audit-publish): a held file's rows stay
-- out of the marts, and the rows it would replace stay in force, until its
-- kind-month is published. Of a path's published versions, the one
-- published last is in force; the others are replaced.
with files as (
    select file_id, rel_path, modified_at,
           case when file_id = first_value(file_id) over (
                    partition by rel_path order by published_at desc, file_id desc
                ) then 'loaded' else 'replaced' end as status
    from ingest.source_file
    where source_kind = %(kind)s and period_month = %(period)s
      and published_at is not null and status <> 'failed'
),

unit_files as (
    select r.unit_key, r.file_id
    from ingest.roster_row as r
    join files as f using (file_id)
    where r.source_kind = %(kind)s and r.period_month = %(period)s
      and f.status = 'loaded' and r.unit_key is not null
    group by 1, 2
),

winner as (
    select distinct on (u.unit_key) u.unit_key, u.file_id
    from unit_files as u
    join files as f using (file_id)
    where u.unit_key in (select unit_key from unit_files group by 1 having count(*) > 1)
    order by u.unit_key, f.modified_at desc, f.rel_path desc
),

target as (
    select r.file_id, r.source_row, s.superseded
    from ingest.roster_row as r
    join files as f using (file_id)
    left join winner as w on w.unit_key = r.unit_key
    cross join lateral (
        select f.status = 'replaced' or (w.file_id is not null and w.file_id <> r.file_id) as superseded
    ) as s
    where r.source_kind = %(kind)s and r.period_month = %(period)s
      and r.superseded is distinct from s.superseded
)

update ingest.roster_row as r
set superseded = t.superseded
from target as t
where r.file_id = t.file_id and r.source_row = t.source_row and r.superseded is distinct from t.superseded;
