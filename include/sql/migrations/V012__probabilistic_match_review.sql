-- V012: pairs of workers scored by the probabilistic model, and the review
-- queue people work through. A reviewer's decision (accepted / rejected) is
-- never overridden by a later run.

create table identity.match_candidate (
    worker_a           bigint not null,
    worker_b           bigint not null,
    match_probability  numeric(9, 6) not null,
    match_weight       numeric(9, 3) not null,
    comparison         jsonb not null,
    status             text not null check (status in ('merged', 'pending', 'accepted', 'rejected')),
    scored_at          timestamptz not null default now(),
    decided_by         text,
    decided_at         timestamptz,
    note               text,
    primary key (worker_a, worker_b),
    check (worker_a < worker_b)
);
create index match_candidate_pending on identity.match_candidate (match_probability desc) where status = 'pending';
comment on table identity.match_candidate is
    'Worker pairs the probabilistic model scored above the review threshold. merged: above the auto-merge threshold; pending: waits for a reviewer; accepted / rejected: a reviewer decided, and later runs respect it. comparison holds, per field (nik, name_key, birth_date, gender), the comparison level (gamma) and its match weight (log2 Bayes factor).';

create view identity.review_queue as
select
    c.worker_a,
    c.worker_b,
    c.match_probability,
    c.match_weight,
    a.display_name as name_a,
    b.display_name as name_b,
    a.birth_date as birth_date_a,
    b.birth_date as birth_date_b,
    a.nik as nik_a,
    b.nik as nik_b,
    a.gender as gender_a,
    b.gender as gender_b,
    c.comparison,
    c.scored_at
from identity.match_candidate as c
join identity.worker as a on a.worker_key = c.worker_a
join identity.worker as b on b.worker_key = c.worker_b
where c.status = 'pending'
  -- pairs the rules have since joined need no decision
  and coalesce(a.merged_into, a.worker_key) <> coalesce(b.merged_into, b.worker_key);
comment on view identity.review_queue is
    'Doubtful worker pairs, most likely first, with what a reviewer needs to decide. Decide with: update identity.match_candidate set status = ''accepted'' (or ''rejected''), decided_by = ''<name>'', decided_at = now() where worker_a = .. and worker_b = ..; the next consolidation run applies it. Holds personal data.';
