-- The rows of one source kind and month as they would be in force if every
-- file received were published: what validation judges before publication
-- (write-audit-publish). The same snapshot rule as load/settle_snapshots.sql,
-- over every current file version (published or held), read without writing.
with files as (
    select file_id, rel_path, modified_at, status
    from ingest.source_file
    where source_kind = %(kind)s and period_month = %(period)s
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
)

select r.file_id, r.status, r.row_hash, r.nik, r.nik_quality, r.name_key, r.birth_date, r.gender,
       array_to_string(r.programs, ',') as programs, r.funding_source, r.segment, r.unit_key, r.regency_code
from ingest.roster_row as r
join files as f using (file_id)
left join winner as w on w.unit_key = r.unit_key
where r.source_kind = %(kind)s and r.period_month = %(period)s
  and f.status = 'loaded' and (w.file_id is null or w.file_id = r.file_id)
