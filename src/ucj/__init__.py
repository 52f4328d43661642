"""UCJ pipeline: rosters in, coverage of worker social security out.

UCJ (Universal Coverage Jamsostek) is the share of a regency's working
population covered by BPJS Ketenagakerjaan. This package holds everything the
Airflow DAGs in ``dags/`` call: reading rosters, validating them, resolving
worker identities, and loading the PostgreSQL warehouse. None of it needs a
running Airflow.
"""
