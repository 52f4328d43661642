-- After a month's aggregates were rebuilt (same transaction): every regency
-- whose covered_workers differs from the figure last published gets a
-- revision row, and the published figure follows. The first load of a month
-- publishes its figures and revises nothing; a regency appearing in a month
-- published before (a late file) is revised from 0.
-- Parameters: period, cause, dag_id, run_id.
with current_figure as (
    select period_month, regency_code, covered_workers
    from dw.agg_regency_month where period_month = %(period)s
),
compared as (
    select
        coalesce(c.period_month, p.period_month) as period_month,
        coalesce(c.regency_code, p.regency_code) as regency_code,
        coalesce(p.covered_workers, 0) as before,
        coalesce(c.covered_workers, 0) as after,
        p.regency_code is not null as was_published
    from current_figure as c
    full join (select * from dw.published_figure where period_month = %(period)s) as p
        on p.regency_code = c.regency_code
),
month_published as (
    select exists(select from dw.published_figure where period_month = %(period)s) as yes
)
insert into dw.ucj_revision
    (period_month, regency_code, covered_workers_before, covered_workers_after, cause, dag_id, run_id)
select period_month, regency_code, before, after, %(cause)s, %(dag_id)s, %(run_id)s
from compared, month_published
where month_published.yes and before <> after;

update dw.published_figure as p
set covered_workers = coalesce(c.covered_workers, 0), revised_at = now()
from (select p2.regency_code, a.covered_workers
      from dw.published_figure as p2
      left join dw.agg_regency_month as a on a.period_month = p2.period_month and a.regency_code = p2.regency_code
      where p2.period_month = %(period)s) as c
where p.period_month = %(period)s and p.regency_code = c.regency_code
  and p.covered_workers <> coalesce(c.covered_workers, 0);

insert into dw.published_figure (period_month, regency_code, covered_workers, revised_at)
select a.period_month, a.regency_code, a.covered_workers,
       case when exists (select from dw.published_figure where period_month = %(period)s) then now() end
from dw.agg_regency_month as a
where a.period_month = %(period)s
on conflict (period_month, regency_code) do nothing;
