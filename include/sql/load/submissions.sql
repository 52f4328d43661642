-- One month's reporting units and submissions, from the rows in force: the
-- whole month (ucj.facts.load_facts, before load_period.sql), or only the
-- units listed in the temp table unit_scope (scoped; ucj.facts.apply_changes,
-- for a late or corrected file: every unit its versions hold). Caller owns the
-- transaction. Parameters: period, held, scoped.
set local work_mem = '256MB';
create temp table if not exists unit_scope (source_kind text, unit_key text) on commit drop;

-- 0. The month's rows per file and unit, counted once for both the units and
--    the submissions below (each would otherwise scan the month again).
drop table if exists month_file_unit;
create temp table month_file_unit on commit drop as
select file_id, source_kind, unit_key, unit_code, unit_name, regency_code,
       count(*) as rows_received,
       count(*) filter (where status = 'loaded') as rows_loaded,
       count(*) filter (where status = 'quarantined') as rows_quarantined,
       count(*) filter (where status = 'duplicate') as rows_duplicate
from ingest.roster_row
where period_month = %(period)s and not superseded and unit_key is not null
  and file_id <> all(%(held)s::bigint[])  -- held files wait for publication (ucj.publication)
  and (not %(scoped)s or (source_kind, unit_key) in (select s.source_kind, s.unit_key from unit_scope as s))
group by 1, 2, 3, 4, 5, 6;

-- 1. Reporting units seen this month (new ones get a surrogate key; a unit
--    keeps its key and first period forever, its name follows the latest file).
--    Units per file first (a hash over the rows), then the latest file per unit.
insert into dw.dim_reporting_unit (source_kind, unit_key, unit_code, unit_name, regency_code, first_period)
select distinct on (r.source_kind, r.unit_key)
       r.source_kind, r.unit_key, r.unit_code, r.unit_name, r.regency_code, %(period)s::date
from (select * from month_file_unit where rows_loaded > 0) as r
join ingest.source_file as f using (file_id)
order by r.source_kind, r.unit_key, f.modified_at desc, f.rel_path desc, r.unit_name
on conflict (source_kind, unit_key) do update
set unit_name = coalesce(excluded.unit_name, dw.dim_reporting_unit.unit_name),
    first_period = least(dw.dim_reporting_unit.first_period, excluded.first_period);

-- 2. Submissions: the file in force per unit, with its row outcomes.
delete from dw.fact_submission as s
where s.period_month = %(period)s
  and (not %(scoped)s
       or s.unit_sk in (select u.unit_sk
                        from dw.dim_reporting_unit as u
                        join unit_scope as c on c.source_kind = u.source_kind and c.unit_key = u.unit_key));
with in_force as (
    select source_kind, unit_key, file_id,
           sum(rows_received) as rows_received,
           sum(rows_loaded) as rows_loaded,
           sum(rows_quarantined) as rows_quarantined,
           sum(rows_duplicate) as rows_duplicate
    from month_file_unit
    group by 1, 2, 3
)
insert into dw.fact_submission
    (period_month, unit_sk, file_id, rows_received, rows_loaded, rows_quarantined, rows_duplicate, received_at)
select %(period)s, u.unit_sk, i.file_id, i.rows_received, i.rows_loaded, i.rows_quarantined, i.rows_duplicate,
       f.modified_at
from in_force as i
join dw.dim_reporting_unit as u using (source_kind, unit_key)
join ingest.source_file as f using (file_id)
where i.rows_loaded > 0;
