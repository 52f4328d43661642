# Airflow image with the UCJ package and its pinned dependencies.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt constraints.txt /opt/ucj/
RUN pip install --no-cache-dir -r /opt/ucj/requirements.txt -c /opt/ucj/constraints.txt

# The domain package (src/ucj) is installed like any library; plugins/ holds only the Airflow UI plugin.
COPY --chown=airflow:root pyproject.toml /opt/ucj/
COPY --chown=airflow:root src/ /opt/ucj/src/
RUN pip install --no-cache-dir --no-deps /opt/ucj

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
ENV UCJ_PROJECT_ROOT=/opt/airflow
