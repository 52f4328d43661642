-- Coverage churn (CONTRACT.md §7), changed by what changed since the last refresh.
-- "Covered" in a regency and month: at least one coverage fact there (§4).
-- new: covered, and never before in this regency; continuing: covered last
-- month too; returning: covered in an earlier month but not last month;
-- lapsed: covered last month, not this month (only into months that were
-- loaded: the latest month's workers have not lapsed yet).
-- A lapse's reason, from the month's rosters, first that applies:
--   status_non_aktif      a roster row of the month lists the worker, status Non Aktif;
--   enrollment_ended      a roster row of the month lists the worker, enrollment ended before the month's end;
--   unit_not_reported     none of the units that covered the worker last month sent a roster this month;
--   dropped_from_snapshot otherwise: the unit reported and the worker is not (or no longer validly) on it.
--
-- Why in proportion: a worker's class in a month depends on its rows of that
-- month and the month before and on its first covered month, and on nobody
-- else's. So a reloaded month and the month after it are counted afresh from
-- the churn's own copy of who is covered (steps 4 and 6), and elsewhere only
-- the pairs that merges moved or whose first month moved are counted again,
-- before and after the change, and the difference added (step 3). A first
-- refresh, a forced one (ucj.facts.refresh_churn) or one after a crash
-- emptied the unlogged copy counts every month afresh.

-- Sorts and hashes of a month's pairs stay in memory (the default 4 MB spills them to disk).
set local work_mem = '256MB';

-- 1. What changed: whole months (reloaded, or a month that came or went) and
--    workers of a month (merges). Taken off dw.churn_pending in one statement:
--    what a load adds meanwhile waits for the next refresh.
create temp table churn_taken (period_month date, worker_key bigint) on commit drop;
with taken as (delete from dw.churn_pending returning period_month, worker_key)
insert into churn_taken select distinct period_month, worker_key from taken;

create temp table months_now on commit drop as
select distinct period_month from dw.agg_regency_month;

create temp table months_changed on commit drop as
(
    select period_month from months_now
    except
    select period_month from dw.churn_month
)
union
(
    select period_month from dw.churn_month
    except
    select period_month from months_now
);

create temp table whole_month on commit drop as
select period_month from churn_taken where worker_key is null
union
select period_month from months_changed;
analyze whole_month;

create temp table month_worker on commit drop as
select t.period_month, t.worker_key from churn_taken as t
where t.worker_key is not null and t.period_month not in (select w.period_month from whole_month as w);
analyze month_worker;

-- 2. Coverage in scope as the churn last counted it and as the facts hold it now.
create temp table scope_before on commit drop as
select c.period_month, c.regency_code, c.segment_code, c.funding_code, c.worker_key
from dw.churn_covered as c
where c.period_month in (select w.period_month from whole_month as w)
union all
select c.period_month, c.regency_code, c.segment_code, c.funding_code, c.worker_key
from dw.churn_covered as c
join month_worker as k on k.period_month = c.period_month and k.worker_key = c.worker_key;

create temp table scope_now on commit drop as
select f.period_month, f.regency_code, f.segment_code, f.funding_code, f.worker_key
from dw.fact_coverage as f
where f.period_month in (select w.period_month from whole_month as w)
union
select f.period_month, f.regency_code, f.segment_code, f.funding_code, f.worker_key
from dw.fact_coverage as f
join month_worker as k on k.period_month = f.period_month and k.worker_key = f.worker_key;

create temp table gone on commit drop as
select period_month, regency_code, segment_code, funding_code, worker_key from scope_before
except
select period_month, regency_code, segment_code, funding_code, worker_key from scope_now;

create temp table came on commit drop as
select period_month, regency_code, segment_code, funding_code, worker_key from scope_now
except
select period_month, regency_code, segment_code, funding_code, worker_key from scope_before;
analyze gone;
analyze came;

-- Months counted whole (bulk_month): a whole month and the month after it.
-- A row's class in month n needs the pair's rows of n and n - 1 and its
-- first month; a lapse into n, its rows of n - 1 and n. So outside these
-- months a whole month's change moves only the pairs whose first month moved
-- (new becomes returning, or back), plus the pairs merges moved: those are
-- counted by difference (pair_regency, pair_segment), the rest afresh.
create temp table bulk_month on commit drop as
select period_month from whole_month
union
select (w.period_month + interval '1 month')::date from whole_month as w
where (w.period_month + interval '1 month')::date in (select n.period_month from months_now as n);
analyze bulk_month;

-- The pairs counted by difference, each from the first month it can change.
-- Regency level: covered in a month at all, whatever the segment.
create temp table pair_regency on commit drop as
with changed as (
    select period_month, regency_code, worker_key from gone
    union
    select period_month, regency_code, worker_key from came
),
first_moves as (
    -- gained a month before its first, or lost rows in its first month
    select c.regency_code, c.worker_key, least(min(c.period_month), min(f.first_month)) as first_changed
    from changed as c
    left join dw.churn_first as f on f.regency_code = c.regency_code and f.worker_key = c.worker_key
    group by c.regency_code, c.worker_key
    having min(f.first_month) is null or min(c.period_month) <= min(f.first_month)
)
select regency_code, worker_key, min(first_changed) as first_changed
from (
    select regency_code, worker_key, first_changed from first_moves
    union all
    select c.regency_code, c.worker_key, c.period_month
    from changed as c
    where c.period_month in (select k.period_month from month_worker as k)
) as d
group by regency_code, worker_key;
analyze pair_regency;

create temp table pair_segment on commit drop as
with changed as (
    select period_month, regency_code, segment_code, funding_code, worker_key from gone
    union all
    select period_month, regency_code, segment_code, funding_code, worker_key from came
),
first_moves as (
    select c.regency_code, c.segment_code, c.funding_code, c.worker_key,
           least(min(c.period_month), min(f.first_month)) as first_changed
    from changed as c
    left join dw.churn_segment_first as f
        on f.regency_code = c.regency_code and f.segment_code = c.segment_code
       and f.funding_code = c.funding_code and f.worker_key = c.worker_key
    group by c.regency_code, c.segment_code, c.funding_code, c.worker_key
    having min(f.first_month) is null or min(c.period_month) <= min(f.first_month)
)
select regency_code, segment_code, funding_code, worker_key, min(first_changed) as first_changed
from (
    select regency_code, segment_code, funding_code, worker_key, first_changed from first_moves
    union all
    select c.regency_code, c.segment_code, c.funding_code, c.worker_key, c.period_month
    from changed as c
    where c.period_month in (select k.period_month from month_worker as k)
) as d
group by regency_code, segment_code, funding_code, worker_key;
analyze pair_segment;

-- 3. What those pairs count, from their first changed month on: read from
--    dw.churn_covered, dw.churn_first and dw.churn_month before the change
--    and again after it. Only a pair's rows from the month before its first
--    changed month on are read: a row's class needs the row before it (there
--    when it is the month before: continuing) and the pair's first month
--    (before the row: returning, else new).
drop view if exists churn_counted_regency;
create temp view churn_counted_regency as
with pair as materialized (
    select p.regency_code, p.worker_key, p.first_changed, f.first_month
    from pair_regency as p
    left join dw.churn_first as f on f.regency_code = p.regency_code and f.worker_key = p.worker_key
),
history as (
    select distinct c.regency_code, c.worker_key, c.period_month, p.first_changed, p.first_month
    from pair as p
    join dw.churn_covered as c on c.regency_code = p.regency_code and c.worker_key = p.worker_key
    where c.period_month >= (p.first_changed - interval '1 month')::date
      and c.period_month >= (select (min(q.first_changed) - interval '1 month')::date from pair_regency as q)
),
classed as (
    select period_month, regency_code, first_changed, first_month,
           lag(period_month) over (partition by regency_code, worker_key order by period_month)
               = (period_month - interval '1 month')::date as continuing
    from history
)
select
    period_month, regency_code,
    count(*) as covered_workers,
    count(*) filter (where continuing is not true and first_month >= period_month) as new_workers,
    count(*) filter (where continuing) as continuing_workers,
    count(*) filter (where continuing is not true and first_month < period_month) as returning_workers
from classed
where period_month >= first_changed and period_month not in (select b.period_month from bulk_month as b)
group by period_month, regency_code;

drop view if exists churn_counted_segment;
create temp view churn_counted_segment as
with pair as materialized (
    select p.regency_code, p.segment_code, p.funding_code, p.worker_key, p.first_changed, f.first_month
    from pair_segment as p
    left join dw.churn_segment_first as f
        on f.regency_code = p.regency_code and f.segment_code = p.segment_code
       and f.funding_code = p.funding_code and f.worker_key = p.worker_key
),
history as (
    select c.regency_code, c.segment_code, c.funding_code, c.worker_key, c.period_month, p.first_changed,
           p.first_month
    from pair as p
    join dw.churn_covered as c
        on c.regency_code = p.regency_code and c.worker_key = p.worker_key
       and c.segment_code = p.segment_code and c.funding_code = p.funding_code
    where c.period_month >= (p.first_changed - interval '1 month')::date
      and c.period_month >= (select (min(q.first_changed) - interval '1 month')::date from pair_segment as q)
),
classed as (
    select period_month, regency_code, segment_code, funding_code, first_changed, first_month,
           lag(period_month) over w = (period_month - interval '1 month')::date as continuing,
           lead(period_month) over w as covered_after
    from history
    window w as (partition by regency_code, segment_code, funding_code, worker_key order by period_month)
),
this_month as (
    select period_month, regency_code, segment_code, funding_code,
           count(*) as covered_workers,
           count(*) filter (where continuing is not true and first_month >= period_month) as new_workers,
           count(*) filter (where continuing) as continuing_workers,
           count(*) filter (where continuing is not true and first_month < period_month) as returning_workers,
           0::bigint as lapsed_workers
    from classed
    where period_month >= first_changed and period_month not in (select b.period_month from bulk_month as b)
    group by 1, 2, 3, 4
),
lapses as (
    select (h.period_month + interval '1 month')::date as period_month, h.regency_code, h.segment_code,
           h.funding_code, 0::bigint, 0::bigint, 0::bigint, 0::bigint, count(*) as lapsed_workers
    from classed as h
    join dw.churn_month as m on m.period_month = (h.period_month + interval '1 month')::date
    where h.covered_after is distinct from (h.period_month + interval '1 month')::date
      and (h.period_month + interval '1 month')::date >= h.first_changed
      and (h.period_month + interval '1 month')::date not in (select b.period_month from bulk_month as b)
    group by 1, 2, 3, 4
)
select * from this_month
union all
select * from lapses;

create temp table regency_delta on commit drop as
select period_month, regency_code, -covered_workers as covered_workers, -new_workers as new_workers,
       -continuing_workers as continuing_workers, -returning_workers as returning_workers
from churn_counted_regency;

create temp table segment_delta on commit drop as
select period_month, regency_code, segment_code, funding_code, -covered_workers as covered_workers,
       -new_workers as new_workers, -continuing_workers as continuing_workers,
       -returning_workers as returning_workers, -lapsed_workers as lapsed_workers
from churn_counted_segment;

delete from dw.churn_covered as c
using gone as g
where c.regency_code = g.regency_code and c.worker_key = g.worker_key and c.period_month = g.period_month
  and c.segment_code = g.segment_code and c.funding_code = g.funding_code;
-- In the primary key's order: the index takes the month's rows leaf after leaf, not one random page each.
insert into dw.churn_covered (regency_code, worker_key, period_month, segment_code, funding_code)
select regency_code, worker_key, period_month, segment_code, funding_code from came
order by regency_code, worker_key, period_month, segment_code, funding_code;
-- The first months: a pair that lost rows in its first month takes the least month it has left
-- (or goes); a pair that gained rows takes the least of its first month and theirs.
with lost as (
    select distinct g.regency_code, g.worker_key
    from gone as g
    join dw.churn_first as f
        on f.regency_code = g.regency_code and f.worker_key = g.worker_key and f.first_month = g.period_month
),
deleted as (
    delete from dw.churn_first as f using lost as l
    where f.regency_code = l.regency_code and f.worker_key = l.worker_key
    returning f.regency_code, f.worker_key
)
insert into dw.churn_first (regency_code, worker_key, first_month)
select d.regency_code, d.worker_key, min(c.period_month)
from deleted as d
join dw.churn_covered as c on c.regency_code = d.regency_code and c.worker_key = d.worker_key
group by d.regency_code, d.worker_key;
create temp table came_first on commit drop as
select regency_code, worker_key, min(period_month) as first_month from came group by regency_code, worker_key;
update dw.churn_first as f
set first_month = c.first_month
from came_first as c
where c.regency_code = f.regency_code and c.worker_key = f.worker_key and c.first_month < f.first_month;
insert into dw.churn_first (regency_code, worker_key, first_month)
select c.regency_code, c.worker_key, c.first_month
from came_first as c
where not exists (select from dw.churn_first as f where f.regency_code = c.regency_code and f.worker_key = c.worker_key);

with lost as (
    select distinct g.regency_code, g.segment_code, g.funding_code, g.worker_key
    from gone as g
    join dw.churn_segment_first as f
        on f.regency_code = g.regency_code and f.segment_code = g.segment_code
       and f.funding_code = g.funding_code and f.worker_key = g.worker_key and f.first_month = g.period_month
),
deleted as (
    delete from dw.churn_segment_first as f using lost as l
    where f.regency_code = l.regency_code and f.segment_code = l.segment_code
      and f.funding_code = l.funding_code and f.worker_key = l.worker_key
    returning f.regency_code, f.segment_code, f.funding_code, f.worker_key
)
insert into dw.churn_segment_first (regency_code, segment_code, funding_code, worker_key, first_month)
select d.regency_code, d.segment_code, d.funding_code, d.worker_key, min(c.period_month)
from deleted as d
join dw.churn_covered as c
    on c.regency_code = d.regency_code and c.worker_key = d.worker_key
   and c.segment_code = d.segment_code and c.funding_code = d.funding_code
group by d.regency_code, d.segment_code, d.funding_code, d.worker_key;
create temp table came_segment_first on commit drop as
select regency_code, segment_code, funding_code, worker_key, min(period_month) as first_month
from came
group by regency_code, segment_code, funding_code, worker_key;
update dw.churn_segment_first as f
set first_month = c.first_month
from came_segment_first as c
where c.regency_code = f.regency_code and c.segment_code = f.segment_code and c.funding_code = f.funding_code
  and c.worker_key = f.worker_key and c.first_month < f.first_month;
insert into dw.churn_segment_first (regency_code, segment_code, funding_code, worker_key, first_month)
select c.regency_code, c.segment_code, c.funding_code, c.worker_key, c.first_month
from came_segment_first as c
where not exists (
    select from dw.churn_segment_first as f
    where f.regency_code = c.regency_code and f.segment_code = c.segment_code and f.funding_code = c.funding_code
      and f.worker_key = c.worker_key
);

delete from dw.churn_month where period_month not in (select n.period_month from months_now as n);
insert into dw.churn_month (period_month)
select period_month from months_now
on conflict do nothing;
analyze dw.churn_covered;

insert into regency_delta
select period_month, regency_code, covered_workers, new_workers, continuing_workers, returning_workers
from churn_counted_regency;
insert into segment_delta
select period_month, regency_code, segment_code, funding_code, covered_workers, new_workers, continuing_workers,
       returning_workers, lapsed_workers
from churn_counted_segment;
drop view churn_counted_regency;
drop view churn_counted_segment;

-- Who is covered in the months counted afresh and in the months before them,
-- as the churn's copy now holds it: read once, for the lapse list (step 4)
-- and the counts (step 6).
create temp table bulk_covered on commit drop as
select c.period_month, c.regency_code, c.segment_code, c.funding_code, c.worker_key
from dw.churn_covered as c
where c.period_month in (select b.period_month from bulk_month as b);

create temp table bulk_last_month on commit drop as
select c.period_month, c.regency_code, c.segment_code, c.funding_code, c.worker_key
from dw.churn_covered as c
where c.period_month in (select (b.period_month - interval '1 month')::date from bulk_month as b);
analyze bulk_covered;
analyze bulk_last_month;

-- 4. The lapse list, again for what can have changed: every lapse into a
--    whole month or the month after it; a changed pair's lapses from its
--    first changed month on; the lapses of a merged worker in the month of
--    the merge and the month after (its rows, and so the reason, moved).
create temp table lapse_gone (period_month date, regency_code text, reason text) on commit drop;
with removed as (
    delete from followup.lapse as l
    where l.period_month in (select n.period_month from bulk_month as n)
    returning l.period_month, l.regency_code, l.reason
)
insert into lapse_gone select period_month, regency_code, reason from removed;
with removed as (
    delete from followup.lapse as l
    using pair_regency as p
    where p.regency_code = l.regency_code and p.worker_key = l.worker_key and l.period_month >= p.first_changed
    returning l.period_month, l.regency_code, l.reason
)
insert into lapse_gone select period_month, regency_code, reason from removed;
with removed as (
    delete from followup.lapse as l
    using month_worker as k
    where k.worker_key = l.worker_key
      and l.period_month in (k.period_month, (k.period_month + interval '1 month')::date)
    returning l.period_month, l.regency_code, l.reason
)
insert into lapse_gone select period_month, regency_code, reason from removed;

create temp table lapsed on commit drop as
with candidate as (
    -- covered in the month before, in the regency: (month lapsed into, regency, worker)
    select (c.period_month + interval '1 month')::date as period_month, c.regency_code, c.worker_key
    from bulk_last_month as c
    union
    select (c.period_month + interval '1 month')::date, c.regency_code, c.worker_key
    from pair_regency as p
    join dw.churn_covered as c on c.regency_code = p.regency_code and c.worker_key = p.worker_key
    where (c.period_month + interval '1 month')::date >= p.first_changed
    union
    select (c.period_month + interval '1 month')::date, c.regency_code, c.worker_key
    from month_worker as k
    join dw.churn_covered as c
        on c.worker_key = k.worker_key
       and c.period_month in (k.period_month, (k.period_month - interval '1 month')::date)
)
select l.period_month, l.regency_code, l.worker_key, (l.period_month - interval '1 month')::date as last_covered
from candidate as l
join dw.churn_month as m on m.period_month = l.period_month
where not exists (select from dw.churn_covered as c
                  where c.regency_code = l.regency_code and c.worker_key = l.worker_key
                    and c.period_month = l.period_month);
analyze lapsed;

create temp table churn_lapse on commit drop as
with rows_of_month as (
    -- The month's published, current rows of each lapsed worker in the regency.
    select l.period_month, l.regency_code, l.worker_key, r.is_active, r.enrollment_end
    from lapsed as l
    join identity.worker as w on coalesce(w.merged_into, w.worker_key) = l.worker_key
    join identity.row_link as k on k.worker_key = w.worker_key and k.period_month = l.period_month
    join ingest.roster_row as r
        on r.period_month = k.period_month and r.file_id = k.file_id and r.source_row = k.source_row
    join ingest.source_file as f on f.file_id = r.file_id
    where r.regency_code = l.regency_code and not r.superseded and f.published_at is not null
      and f.status = 'loaded'
)
select
    l.period_month, l.regency_code, l.worker_key, l.last_covered,
    (select min(c.unit_sk) from dw.fact_coverage as c
     where c.period_month = l.last_covered and c.worker_key = l.worker_key
       and c.regency_code = l.regency_code) as last_unit_sk,
    case
        when exists (select from rows_of_month as o
                     where o.period_month = l.period_month and o.regency_code = l.regency_code
                       and o.worker_key = l.worker_key and o.is_active is false) then 'status_non_aktif'
        when exists (select from rows_of_month as o
                     where o.period_month = l.period_month and o.regency_code = l.regency_code
                       and o.worker_key = l.worker_key
                       and o.enrollment_end < (l.period_month + interval '1 month - 1 day')::date)
            then 'enrollment_ended'
        when not exists (select from dw.fact_coverage as c
                         join dw.fact_submission as s on s.unit_sk = c.unit_sk and s.period_month = l.period_month
                         where c.period_month = l.last_covered and c.worker_key = l.worker_key
                           and c.regency_code = l.regency_code) then 'unit_not_reported'
        else 'dropped_from_snapshot'
    end as reason
from lapsed as l;

insert into followup.lapse (period_month, regency_code, worker_key, reason, last_covered_month, last_unit_sk)
select period_month, regency_code, worker_key, reason, last_covered, last_unit_sk from churn_lapse;

-- 5. The aggregates change by the differences; a row left counting nothing goes.
create temp table lapse_delta on commit drop as
select period_month, regency_code, sum(n)::bigint as lapsed_workers,
       sum(n) filter (where reason = 'status_non_aktif')::bigint as status_non_aktif,
       sum(n) filter (where reason = 'enrollment_ended')::bigint as enrollment_ended,
       sum(n) filter (where reason = 'unit_not_reported')::bigint as unit_not_reported,
       sum(n) filter (where reason = 'dropped_from_snapshot')::bigint as dropped_from_snapshot
from (
    select period_month, regency_code, reason, -1 as n from lapse_gone
    union all
    select period_month, regency_code, reason, 1 from churn_lapse
) as d
where period_month not in (select b.period_month from bulk_month as b)
group by period_month, regency_code;

insert into dw.agg_churn_month as a
select
    coalesce(r.period_month, l.period_month), coalesce(r.regency_code, l.regency_code),
    coalesce(r.covered_workers, 0), coalesce(r.new_workers, 0), coalesce(r.continuing_workers, 0),
    coalesce(r.returning_workers, 0), coalesce(l.lapsed_workers, 0), coalesce(l.status_non_aktif, 0),
    coalesce(l.enrollment_ended, 0), coalesce(l.unit_not_reported, 0), coalesce(l.dropped_from_snapshot, 0)
from (
    select period_month, regency_code, sum(covered_workers)::bigint as covered_workers,
           sum(new_workers)::bigint as new_workers, sum(continuing_workers)::bigint as continuing_workers,
           sum(returning_workers)::bigint as returning_workers
    from regency_delta
    group by period_month, regency_code
) as r
full join lapse_delta as l on l.period_month = r.period_month and l.regency_code = r.regency_code
on conflict (period_month, regency_code) do update
set covered_workers = a.covered_workers + excluded.covered_workers,
    new_workers = a.new_workers + excluded.new_workers,
    continuing_workers = a.continuing_workers + excluded.continuing_workers,
    returning_workers = a.returning_workers + excluded.returning_workers,
    lapsed_workers = a.lapsed_workers + excluded.lapsed_workers,
    lapsed_status_non_aktif = a.lapsed_status_non_aktif + excluded.lapsed_status_non_aktif,
    lapsed_enrollment_ended = a.lapsed_enrollment_ended + excluded.lapsed_enrollment_ended,
    lapsed_unit_not_reported = a.lapsed_unit_not_reported + excluded.lapsed_unit_not_reported,
    lapsed_dropped_from_snapshot = a.lapsed_dropped_from_snapshot + excluded.lapsed_dropped_from_snapshot;

insert into dw.agg_churn_segment_month as a
select period_month, regency_code, segment_code, funding_code, sum(covered_workers)::bigint,
       sum(new_workers)::bigint, sum(continuing_workers)::bigint, sum(returning_workers)::bigint,
       sum(lapsed_workers)::bigint
from segment_delta
group by period_month, regency_code, segment_code, funding_code
on conflict (period_month, regency_code, segment_code, funding_code) do update
set covered_workers = a.covered_workers + excluded.covered_workers,
    new_workers = a.new_workers + excluded.new_workers,
    continuing_workers = a.continuing_workers + excluded.continuing_workers,
    returning_workers = a.returning_workers + excluded.returning_workers,
    lapsed_workers = a.lapsed_workers + excluded.lapsed_workers;

-- 6. The months counted afresh, from the churn's own copy as it is now.
delete from dw.agg_churn_month where period_month in (select b.period_month from bulk_month as b);
delete from dw.agg_churn_segment_month where period_month in (select b.period_month from bulk_month as b);

insert into dw.agg_churn_month
with covered as (
    select distinct period_month, regency_code, worker_key from bulk_covered
),
last_month as (
    select distinct period_month, regency_code, worker_key from bulk_last_month
),
classed as (
    select v.period_month, v.regency_code, l.worker_key is not null as continuing,
           f.first_month < v.period_month as covered_before
    from covered as v
    left join last_month as l
        on l.regency_code = v.regency_code and l.worker_key = v.worker_key
       and l.period_month = (v.period_month - interval '1 month')::date
    left join dw.churn_first as f on f.regency_code = v.regency_code and f.worker_key = v.worker_key
),
this_month as (
    select period_month, regency_code,
           count(*) as covered_workers,
           count(*) filter (where not continuing and not covered_before) as new_workers,
           count(*) filter (where continuing) as continuing_workers,
           count(*) filter (where not continuing and covered_before) as returning_workers
    from classed
    group by period_month, regency_code
),
lapses as (
    select period_month, regency_code,
           count(*) as lapsed_workers,
           count(*) filter (where reason = 'status_non_aktif') as status_non_aktif,
           count(*) filter (where reason = 'enrollment_ended') as enrollment_ended,
           count(*) filter (where reason = 'unit_not_reported') as unit_not_reported,
           count(*) filter (where reason = 'dropped_from_snapshot') as dropped_from_snapshot
    from followup.lapse
    where period_month in (select b.period_month from bulk_month as b)
    group by period_month, regency_code
)
select
    coalesce(t.period_month, l.period_month), coalesce(t.regency_code, l.regency_code),
    coalesce(t.covered_workers, 0), coalesce(t.new_workers, 0), coalesce(t.continuing_workers, 0),
    coalesce(t.returning_workers, 0), coalesce(l.lapsed_workers, 0), coalesce(l.status_non_aktif, 0),
    coalesce(l.enrollment_ended, 0), coalesce(l.unit_not_reported, 0), coalesce(l.dropped_from_snapshot, 0)
from this_month as t
full join lapses as l on l.period_month = t.period_month and l.regency_code = t.regency_code;

insert into dw.agg_churn_segment_month
with classed as (
    select v.period_month, v.regency_code, v.segment_code, v.funding_code, l.worker_key is not null as continuing,
           f.first_month < v.period_month as covered_before
    from bulk_covered as v
    left join bulk_last_month as l
        on l.regency_code = v.regency_code and l.segment_code = v.segment_code
       and l.funding_code = v.funding_code and l.worker_key = v.worker_key
       and l.period_month = (v.period_month - interval '1 month')::date
    left join dw.churn_segment_first as f
        on f.regency_code = v.regency_code and f.segment_code = v.segment_code
       and f.funding_code = v.funding_code and f.worker_key = v.worker_key
),
this_month as (
    select period_month, regency_code, segment_code, funding_code,
           count(*) as covered_workers,
           count(*) filter (where not continuing and not covered_before) as new_workers,
           count(*) filter (where continuing) as continuing_workers,
           count(*) filter (where not continuing and covered_before) as returning_workers
    from classed
    group by 1, 2, 3, 4
),
lapses as (
    select (l.period_month + interval '1 month')::date as period_month, l.regency_code, l.segment_code,
           l.funding_code, count(*) as lapsed_workers
    from bulk_last_month as l
    join dw.churn_month as m on m.period_month = (l.period_month + interval '1 month')::date
    where not exists (
        select from bulk_covered as v
        where v.period_month = (l.period_month + interval '1 month')::date and v.regency_code = l.regency_code
          and v.segment_code = l.segment_code and v.funding_code = l.funding_code and v.worker_key = l.worker_key
    )
    group by 1, 2, 3, 4
)
select
    coalesce(t.period_month, l.period_month), coalesce(t.regency_code, l.regency_code),
    coalesce(t.segment_code, l.segment_code), coalesce(t.funding_code, l.funding_code),
    coalesce(t.covered_workers, 0), coalesce(t.new_workers, 0), coalesce(t.continuing_workers, 0),
    coalesce(t.returning_workers, 0), coalesce(l.lapsed_workers, 0)
from this_month as t
full join lapses as l
    on l.period_month = t.period_month and l.regency_code = t.regency_code
   and l.segment_code = t.segment_code and l.funding_code = t.funding_code;

delete from dw.agg_churn_month
where covered_workers = 0 and new_workers = 0 and continuing_workers = 0 and returning_workers = 0
  and lapsed_workers = 0 and lapsed_status_non_aktif = 0 and lapsed_enrollment_ended = 0
  and lapsed_unit_not_reported = 0 and lapsed_dropped_from_snapshot = 0;
delete from dw.agg_churn_segment_month
where covered_workers = 0 and new_workers = 0 and continuing_workers = 0 and returning_workers = 0
  and lapsed_workers = 0;
