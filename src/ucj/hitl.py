"""A Required Action whose text and form are made at run time, from what an upstream task prepared.

The standard provider's ``HITLOperator`` takes its form (``params``) when the
DAG is parsed; a review page has one field per queued pair, known only when
the run looks at the queue. This operator reads the page (``body`` and
``form``: Param definitions) from the upstream task's XCom just before it
writes the request, and skips when the page is empty. Imported by DAG files
only: the domain package stays free of Airflow.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowSkipException


class PreparedRequestOperator(HITLOperator):
    """``HITLOperator`` with the body and form of the page returned by ``page_task_id``."""

    def __init__(self, *, page_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.page_task_id = page_task_id

    def execute(self, context: Any) -> Any:
        page = context["ti"].xcom_pull(task_ids=self.page_task_id) or {}
        if not page.get("form"):
            raise AirflowSkipException(page.get("message") or "nothing to ask")
        self.body = page["body"]
        self.params = ParamsDict({key: Param(**spec) for key, spec in page["form"].items()})
        return super().execute(context)

    def validate_params_input(self, params_input: Any) -> None:
        """The form was made at run time: the API server validated the answers against it when they came in."""
        for key, value in params_input.items():
            self.params[key] = value
