-- Revisions on record. A published regency-month figure changes when a later
-- month reveals two workers were one, a late or corrected file arrives, a
-- reviewer splits or joins workers, or reference data changes. Each change
-- of covered_workers is kept here with its cause and the run that made it
-- (mart.ucj_revision); dw.published_figure holds the figure as last
-- published and when it was first published.
create table dw.published_figure (
    period_month date not null,
    regency_code text not null,
    covered_workers bigint not null,
    first_published_at timestamptz not null default now(),
    revised_at timestamptz,
    primary key (period_month, regency_code)
);
comment on table dw.published_figure is
    'Covered workers per regency-month as last published, with when the figure was first published and last revised.';

create table dw.ucj_revision (
    revision_id bigint generated always as identity primary key,
    period_month date not null,
    regency_code text not null,
    covered_workers_before bigint not null,
    covered_workers_after bigint not null,
    revised_at timestamptz not null default now(),
    cause text not null check (
        cause in (
            'identity_merge', 'identity_split', 'review_decision', 'late_file', 'corrected_file', 'reference_change'
        )
    ),
    dag_id text,
    run_id text
);
create index ucj_revision_month on dw.ucj_revision (period_month, regency_code);
comment on table dw.ucj_revision is
    'One row per change of a published regency-month covered_workers figure, with its cause and the Airflow run that made it.';

-- Figures already in the marts count as published now: revisions are recorded from here on.
insert into dw.published_figure (period_month, regency_code, covered_workers)
select period_month, regency_code, covered_workers from dw.agg_regency_month;
