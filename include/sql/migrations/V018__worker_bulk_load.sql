-- V018: identity.worker is written only by ucj.identity (new workers by COPY,
-- half a million in a month's first run; merges and reviewers' undos by
-- UPDATE, under IDENTITY_LOCK). Its self-reference merged_into queued a
-- foreign-key check trigger for every worker copied in, though a new
-- worker's merged_into is always empty: 2.9 s instead of 2.1 s for 565k
-- workers. merged_into is only ever set to the key of a worker read from
-- this table, and no worker is ever deleted. As for the other identity
-- tables (V006), the writer owns the reference and the end-to-end test
-- checks it (every merged_into names a worker).
alter table identity.worker drop constraint worker_merged_into_fkey;
