-- Refresh the worker dimension for one month, part 2 of 2
-- (ucj.facts.refresh_worker_dimension), after worker_month.sql built the
-- month's partition {month} of identity.worker_month and the temp table
-- worker_touched, in the same transaction (whose settings, work_mem among
-- them, hold here too).
analyze {month};

-- 3. SCD2 versions of those workers, rebuilt from all their months: a new
--    version starts in each month whose values differ from the month before.
--    ucj.facts.refresh_worker_dimension holds the worker-dimension lock, so
--    refreshes of different months take turns and each sees the other's
--    committed months. Whether a version is stored already is looked up
--    here, once, so the INSERT below does not read the table it writes (its
--    plan no longer depends on what the statistics say about a dimension it
--    is filling; profiling once saw that INSERT run into the statement
--    timeout), and new versions get their surrogate keys in worker order.
create temp table worker_version on commit drop as
with months as (
    select m.*,
           (m.full_name, m.gender, m.birth_date, m.village_code) is distinct from (
               lag(m.full_name) over w, lag(m.gender) over w, lag(m.birth_date) over w, lag(m.village_code) over w
           ) as changed
    from identity.worker_month as m
    where m.worker_key in (select worker_key from worker_touched)
    window w as (partition by m.worker_key order by m.period_month)
),
versions as (
    select worker_key, full_name, gender, birth_date, village_code, period_month as valid_from,
           lead(period_month) over (partition by worker_key order by period_month) as valid_to
    from months
    where changed
)
select v.*, d.worker_sk
from versions as v
left join dw.dim_worker as d on d.worker_key = v.worker_key and d.valid_from = v.valid_from;
analyze worker_version;

delete from dw.dim_worker as d
using worker_touched as t
where d.worker_key = t.worker_key
  and not exists (
      select from worker_version as v where v.worker_sk = d.worker_sk
  );

-- A version that is still there keeps its surrogate key and takes the new
-- values; the others are inserted. Two statements rather than one upsert:
-- INSERT .. ON CONFLICT probes the unique index once more for every row, and
-- in a first month every row is new (the worker-dimension lock keeps other
-- writers out between the two).
update dw.dim_worker as d
set full_name = v.full_name, gender = v.gender, birth_date = v.birth_date, home_village_code = v.village_code,
    valid_to = v.valid_to, is_current = v.valid_to is null
from worker_version as v
where d.worker_sk = v.worker_sk
  and (d.full_name, d.gender, d.birth_date, d.home_village_code, d.valid_to)
      is distinct from (v.full_name, v.gender, v.birth_date, v.village_code, v.valid_to);

insert into dw.dim_worker
    (worker_key, full_name, gender, birth_date, home_village_code, valid_from, valid_to, is_current)
select worker_key, full_name, gender, birth_date, village_code, valid_from, valid_to, valid_to is null
from worker_version
where worker_sk is null
order by worker_key, valid_from;
