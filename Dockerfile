# Airflow image with the UCJ package and its pinned dependencies.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt constraints.txt /opt/ucj/
RUN pip install --no-cache-dir -r /opt/ucj/requirements.txt -c /opt/ucj/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
ENV PYTHONPATH=/opt/airflow/plugins
