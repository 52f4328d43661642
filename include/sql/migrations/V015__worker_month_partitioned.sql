-- V015: identity.worker_month partitioned by month, like dw.fact_coverage.
--
-- The worker dimension replaces a month of worker_month whole on every load.
-- Inserting a month's 565k rows through two indexes was a third of the
-- dimension's time at 1M roster rows; a month built as a table of its own,
-- indexed in one sorted pass and swapped in as the month's partition costs a
-- fraction of that, and the old month stays readable beside the new one
-- until the swap (ucj.facts.refresh_worker_dimension).

alter table identity.worker_month rename to worker_month_unpartitioned;
alter index identity.worker_month_pkey rename to worker_month_unpartitioned_pkey;

create table identity.worker_month (
    period_month  date not null,
    worker_key    bigint not null,
    full_name     text,
    gender        char(1),
    birth_date    date,
    village_code  text,
    primary key (worker_key, period_month)
) partition by range (period_month);
comment on table identity.worker_month is
    'Worker attributes as reported in each month (latest file in force wins), one partition per month, replaced whole by each load of the month. Source of dw.dim_worker versions. Holds personal data.';

do $$
declare
    month date;
begin
    for month in select distinct period_month from identity.worker_month_unpartitioned loop
        execute format(
            'create table identity.%I partition of identity.worker_month for values from (%L) to (%L)',
            'worker_month_' || to_char(month, 'YYYYMM'), month, (month + interval '1 month')::date
        );
    end loop;
end
$$;

insert into identity.worker_month select * from identity.worker_month_unpartitioned;
drop table identity.worker_month_unpartitioned;
