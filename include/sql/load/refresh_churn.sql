-- Coverage churn for every loaded month, from the coverage facts (CONTRACT.md §7).
-- "Covered" in a regency and month: at least one coverage fact there (§4).
-- new: covered, and never before in this regency; continuing: covered last
-- month too; returning: covered in an earlier month but not last month;
-- lapsed: covered last month, not this month (only for months that were
-- loaded: the latest month's workers have not lapsed yet).
-- A lapse's reason, from the month's rosters, first that applies:
--   status_non_aktif      a roster row of the month lists the worker, status Non Aktif;
--   enrollment_ended      a roster row of the month lists the worker, enrollment ended before the month's end;
--   unit_not_reported     none of the units that covered the worker last month sent a roster this month;
--   dropped_from_snapshot otherwise: the unit reported and the worker is not (or no longer validly) on it.
delete from dw.agg_churn_month;
delete from dw.agg_churn_segment_month;
delete from followup.lapse;

create temp table churn_covered on commit drop as
select distinct period_month, regency_code, worker_key from dw.fact_coverage;

create temp table churn_history on commit drop as
select
    period_month, regency_code, worker_key,
    lag(period_month) over w as covered_before,
    lead(period_month) over w as covered_after
from churn_covered
window w as (partition by regency_code, worker_key order by period_month);

create temp table churn_lapse on commit drop as
with months as (
    select distinct period_month from dw.agg_regency_month
),
lapsed as (
    select (h.period_month + interval '1 month')::date as period_month, h.regency_code, h.worker_key,
           h.period_month as last_covered,
           (select min(c.unit_sk) from dw.fact_coverage as c
            where c.period_month = h.period_month and c.worker_key = h.worker_key
              and c.regency_code = h.regency_code) as last_unit_sk
    from churn_history as h
    join months as m on m.period_month = (h.period_month + interval '1 month')::date
    where h.covered_after is distinct from (h.period_month + interval '1 month')::date
),
rows_of_month as (
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
    l.period_month, l.regency_code, l.worker_key, l.last_covered, l.last_unit_sk,
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

insert into dw.agg_churn_month
with this_month as (
    select
        period_month, regency_code,
        count(*) as covered_workers,
        count(*) filter (where covered_before is null) as new_workers,
        count(*) filter (where covered_before = (period_month - interval '1 month')::date) as continuing_workers,
        count(*) filter (where covered_before < (period_month - interval '1 month')::date) as returning_workers
    from churn_history
    group by period_month, regency_code
),
lapses as (
    select
        period_month, regency_code,
        count(*) as lapsed_workers,
        count(*) filter (where reason = 'status_non_aktif') as status_non_aktif,
        count(*) filter (where reason = 'enrollment_ended') as enrollment_ended,
        count(*) filter (where reason = 'unit_not_reported') as unit_not_reported,
        count(*) filter (where reason = 'dropped_from_snapshot') as dropped_from_snapshot
    from churn_lapse
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
with covered as (
    select distinct period_month, regency_code, segment_code, funding_code, worker_key from dw.fact_coverage
),
history as (
    select period_month, regency_code, segment_code, funding_code, worker_key,
           lag(period_month) over w as covered_before,
           lead(period_month) over w as covered_after
    from covered
    window w as (partition by regency_code, segment_code, funding_code, worker_key order by period_month)
),
months as (
    select distinct period_month from dw.agg_regency_month
),
this_month as (
    select period_month, regency_code, segment_code, funding_code,
           count(*) as covered_workers,
           count(*) filter (where covered_before is null) as new_workers,
           count(*) filter (where covered_before = (period_month - interval '1 month')::date) as continuing_workers,
           count(*) filter (where covered_before < (period_month - interval '1 month')::date) as returning_workers
    from history
    group by 1, 2, 3, 4
),
lapses as (
    select (h.period_month + interval '1 month')::date as period_month, h.regency_code, h.segment_code,
           h.funding_code, count(*) as lapsed_workers
    from history as h
    join months as m on m.period_month = (h.period_month + interval '1 month')::date
    where h.covered_after is distinct from (h.period_month + interval '1 month')::date
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
