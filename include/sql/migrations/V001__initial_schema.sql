-- V001: the whole warehouse shape. Migrations are append-only: change the
-- schema with a new V###__name.sql, never by editing this file.
--
-- Schemas
--   ingest    roster files received and every row read from them (personal data: restricted)
--   identity  workers and the evidence that links rows to them (personal data: restricted)
--   dw        star schema: dimensions and coverage facts
--   audit     validation results per run and file
--   mart      views for BI tools; the only schema bi_reader can read

create schema if not exists ingest;
create schema if not exists identity;
create schema if not exists dw;
create schema if not exists audit;
create schema if not exists mart;

-- ---------------------------------------------------------------- ingest
create table ingest.source_file (
    file_id        bigint generated always as identity primary key,
    source_kind    text not null check (source_kind in ('opd', 'village', 'employer')),
    period_month   date not null check (extract(day from period_month) = 1),
    rel_path       text not null,
    content_hash   text not null,
    size_bytes     bigint not null,
    modified_at    timestamptz not null,
    status         text not null check (status in ('loaded', 'failed', 'replaced')),
    error          text,
    sheet          text,
    header_row     integer,
    rows_read      integer not null default 0,
    footer_rows    integer not null default 0,
    empty_rows     integer not null default 0,
    ingested_at    timestamptz not null default now(),
    unique (source_kind, period_month, rel_path, content_hash)
);
comment on table ingest.source_file is
    'One row per version of a roster file received (content hash). status: loaded, failed (unreadable; error says why), replaced (an older version of the same path).';

create table ingest.roster_row (
    file_id           bigint not null references ingest.source_file on delete cascade,
    source_row        integer not null,
    source_kind       text not null,
    period_month      date not null,
    status            text not null check (status in ('loaded', 'quarantined', 'duplicate')),
    reason            text,
    superseded        boolean not null default false,
    nik               text,
    nik_quality       text not null,
    full_name         text,
    name_key          text,
    birth_date        date,
    birth_place       text,
    gender            char(1),
    programs          text[],
    enrollment_start  date,
    enrollment_end    date,
    is_active         boolean,
    funding_source    text,
    contribution      numeric(16, 2),
    segment           text not null,
    unit_key          text,
    unit_code         text,
    unit_name         text,
    regency_code      text,
    village_code      text,
    employment_status text,
    position          text,
    category          text,
    occupation        text,
    sector            text,
    wage              numeric(18, 2),
    row_hash          text not null,
    original          jsonb not null,
    primary key (file_id, source_row),
    check ((status = 'quarantined') = (reason is not null))
);
create index roster_row_period_unit on ingest.roster_row (period_month, source_kind, unit_key);
comment on table ingest.roster_row is
    'Every data row of every roster file, interpreted. The row state seen by BI is status, or superseded when a later file replaced the unit. Holds personal data.';

-- ---------------------------------------------------------------- identity
create table identity.worker (
    worker_key    bigint generated always as identity primary key,
    merged_into   bigint references identity.worker,
    nik           text,
    name_key      text,
    display_name  text,
    birth_date    date,
    gender        char(1),
    created_at    timestamptz not null default now()
);
comment on table identity.worker is
    'One row per person. worker_key is stable across runs and periods; when two workers prove to be one, merged_into points at the survivor.';

create table identity.worker_evidence (
    evidence_key  text primary key,
    worker_key    bigint not null references identity.worker
);
comment on table identity.worker_evidence is
    'Blocking keys already attached to a worker (N:<nik>, B:<name key>|<birth date>): how new rows find existing workers.';

create table identity.row_link (
    file_id     bigint not null,
    source_row  integer not null,
    worker_key  bigint not null references identity.worker,
    rule        text not null,
    score       numeric(6, 3),
    linked_at   timestamptz not null default now(),
    primary key (file_id, source_row),
    foreign key (file_id, source_row) references ingest.roster_row on delete cascade
);
create index row_link_worker on identity.row_link (worker_key);
comment on table identity.row_link is
    'Which worker each roster row belongs to, and the evidence: rule (nik, name_birth_date, new) and score.';

-- ---------------------------------------------------------------- dw: dimensions
create table dw.dim_month (
    period_month   date primary key,
    month_key      integer not null unique,
    year           smallint not null,
    month          smallint not null,
    quarter        smallint not null,
    month_name_id  text not null,
    month_name_en  text not null
);
insert into dw.dim_month
select d::date, (extract(year from d) * 100 + extract(month from d))::int,
       extract(year from d), extract(month from d), extract(quarter from d),
       (array['Januari','Februari','Maret','April','Mei','Juni','Juli','Agustus','September','Oktober','November','Desember'])[extract(month from d)],
       to_char(d, 'FMMonth')
from generate_series(date '2015-01-01', date '2040-12-01', interval '1 month') as d;

create table dw.dim_region (
    region_code             text primary key,
    name                    text not null,
    level                   text not null check (level in ('province', 'regency', 'district', 'village')),
    province_code           text not null,
    regency_code            text,
    district_code           text,
    registered_population   bigint
);
comment on table dw.dim_region is
    'Kemendagri kode wilayah (codes without dots) with Dukcapil registered population; see include/reference/README.md.';

create table dw.dim_program (
    program_code  text primary key,
    name_id       text not null,
    name_en       text not null
);
insert into dw.dim_program values
    ('JKK', 'Jaminan Kecelakaan Kerja', 'Work accident insurance'),
    ('JKM', 'Jaminan Kematian', 'Death insurance'),
    ('JHT', 'Jaminan Hari Tua', 'Old-age savings'),
    ('JP',  'Jaminan Pensiun', 'Pension'),
    ('JKP', 'Jaminan Kehilangan Pekerjaan', 'Job-loss insurance');

create table dw.dim_segment (
    segment_code  text primary key,
    name_id       text not null,
    name_en       text not null
);
insert into dw.dim_segment values
    ('PU',    'Penerima Upah', 'Wage earners'),
    ('BPU',   'Bukan Penerima Upah', 'Non-wage (informal) workers'),
    ('JAKON', 'Jasa Konstruksi', 'Construction project workers'),
    ('PMI',   'Pekerja Migran Indonesia', 'Indonesian migrant workers');

create table dw.dim_funding_source (
    funding_code  text primary key,
    name_id       text not null
);
insert into dw.dim_funding_source values
    ('APBD', 'Anggaran Pendapatan dan Belanja Daerah (regency budget)'),
    ('APBDES', 'APB Desa / Nagari, Dana Desa, ADD'),
    ('DBH_SAWIT', 'Dana Bagi Hasil Sawit'),
    ('BAZNAS', 'Badan Amil Zakat Nasional'),
    ('CSR', 'Corporate social responsibility'),
    ('EMPLOYER', 'Perusahaan / pemberi kerja'),
    ('SELF', 'Mandiri (self-paid)'),
    ('UNKNOWN', 'Not stated on the roster');

create table dw.dim_reporting_unit (
    unit_sk        bigint generated always as identity primary key,
    source_kind    text not null,
    unit_key       text not null,
    unit_code      text not null,
    unit_name      text,
    regency_code   text not null,
    first_period   date not null,
    unique (source_kind, unit_key)
);
comment on table dw.dim_reporting_unit is
    'OPD (regency + OPD code), village (10-digit code) or employer (NPP) that sends rosters.';

-- ---------------------------------------------------------------- dw: facts
create table dw.labor_force (
    regency_code        text not null,
    year                smallint not null,
    working_population  bigint,
    ucj_target_pct      numeric(6, 2),
    denominator         text,
    source              text,
    origin              text not null check (origin in ('shipped', 'landing')),
    primary key (regency_code, year)
);
comment on table dw.labor_force is
    'Working population (the UCJ denominator) and UCJ target per regency and year, with the source of each figure. origin=landing rows come from reference/labor_force.csv and override shipped ones.';

create table dw.fact_submission (
    period_month       date not null,
    unit_sk            bigint not null references dw.dim_reporting_unit,
    file_id            bigint not null references ingest.source_file,
    rows_received      integer not null,
    rows_loaded        integer not null,
    rows_quarantined   integer not null,
    rows_duplicate     integer not null,
    received_at        timestamptz not null,
    primary key (period_month, unit_sk)
);
comment on table dw.fact_submission is
    'The snapshot in force for each reporting unit and month: which file, how many rows and with what outcome.';

create table dw.fact_coverage (
    period_month    date not null,
    worker_key      bigint not null,
    program_code    text not null,
    unit_sk         bigint not null,
    regency_code    text not null,
    segment_code    text not null,
    funding_code    text not null,
    primary key (period_month, worker_key, program_code, unit_sk)
) partition by range (period_month);
comment on table dw.fact_coverage is
    'Periodic snapshot: worker covered for a program in a month through a reporting unit. One partition per month, replaced whole on reload.';

-- ---------------------------------------------------------------- audit
create table audit.validation_run (
    validation_id   bigint generated always as identity primary key,
    dag_id          text,
    run_id          text,
    source_kind     text not null,
    period_month    date not null,
    suite_name      text not null,
    success         boolean not null,
    evaluated       integer not null,
    successful      integer not null,
    row_count       integer not null,
    results         jsonb not null,
    data_docs_path  text,
    validated_at    timestamptz not null default now()
);
comment on table audit.validation_run is
    'Great Expectations validation per ingest batch: expectation outcomes and statistics only, never row values.';
