-- identity.review_queue: the view's whole current definition. Edit here; migrate() re-creates every view
-- when any view file changes (include/sql/views/README.md).

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
    c.scored_at,
    c.scoring_run_id,
    r.model_version
from identity.match_candidate as c
join identity.worker as a on a.worker_key = c.worker_a
join identity.worker as b on b.worker_key = c.worker_b
left join identity.scoring_run as r using (scoring_run_id)
where c.status = 'pending'
  -- pairs the rules have since joined need no decision
  and coalesce(a.merged_into, a.worker_key) <> coalesce(b.merged_into, b.worker_key);

comment on view identity.review_queue is 'Doubtful worker pairs, most likely first, with what a reviewer needs to decide. Decide with: update identity.match_candidate set status = ''accepted'' (or ''rejected''), decided_by = ''<name>'', decided_at = now() where worker_a = .. and worker_b = ..; the next consolidation run applies it. scoring_run_id / model_version: the model that scored the pair (identity.scoring_run). Holds personal data.';
