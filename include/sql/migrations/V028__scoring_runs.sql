-- Which model scored which pair: one row per run of the probabilistic pass,
-- with the trained model itself (splink's JSON: comparisons, m and u values,
-- prior) and how its training went. A pair keeps the run that last scored it.

create table identity.scoring_run (
    scoring_run_id bigint generated always as identity primary key,
    scored_at timestamptz not null default now(),
    model_version text not null,
    splink_version text not null,
    workers integer not null,
    pairs_scored integer not null,
    trained boolean not null,
    training jsonb not null,
    model jsonb
);
comment on table identity.scoring_run is
    'One run of the probabilistic pass: model_version is a hash of the trained model (the model column: splink''s settings with its m and u values), training says which blocks EM learnt from and why any was skipped. trained = false: no block could be learnt, the rules alone decided that run and nothing was queued.';
comment on column identity.scoring_run.model_version is
    'First 16 hex digits of the SHA-256 of the model as stored in the model column: two runs with one version scored with the same parameters.';

alter table identity.match_candidate
    add column scoring_run_id bigint references identity.scoring_run;
comment on column identity.match_candidate.scoring_run_id is
    'The run (identity.scoring_run) that last scored this pair: its model and training.';
