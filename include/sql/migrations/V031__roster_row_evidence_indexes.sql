-- A late or corrected file links again the rows of later months that share
-- evidence with it (ucj.identity.reopen): rows with the same folded name and
-- birth date, or the same NIK. Without an index each round of that search
-- read every roster row of those months (seconds per round at a few months,
-- minutes at a year of a million rows a month); with these it probes only
-- the keys it looks for. Rows without a name or a NIK are never looked up.
create index roster_row_name_birth on ingest.roster_row (name_key, birth_date) where name_key is not null;
create index roster_row_nik on ingest.roster_row (nik) where nik is not null;
