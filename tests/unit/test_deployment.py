"""The shipped deployment cannot start with a guessable secret, and runs with the least privilege it needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ucj import deployment

ROOT = Path(__file__).resolve().parents[2]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_the_shipped_placeholders_are_refused_each_named() -> None:
    example = _env_example()
    env = {
        "AIRFLOW__API_AUTH__JWT_SECRET": example["AIRFLOW_JWT_SECRET"],
        "AIRFLOW__CORE__FERNET_KEY": example["AIRFLOW_FERNET_KEY"],
    }
    uri = f"postgresql://{example['WAREHOUSE_USER']}:{example['WAREHOUSE_PASSWORD']}@warehouse:5432/ucj"
    problems = deployment.secret_problems(env, uri, b"change-me-nik-token-key")
    assert len(problems) == 4
    for name in ["AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "warehouse password", "NIK token key"]:
        assert any(name in p and "placeholder" in p for p in problems), name


def test_empty_and_short_secrets_are_refused_and_strong_ones_pass() -> None:
    strong = {
        "AIRFLOW__API_AUTH__JWT_SECRET": "k" * 8 + "Zq3v9Lw2Xe7Rt5Yu1Io4Pa6Sd8Fg0Hj",
        "AIRFLOW__CORE__FERNET_KEY": "f3",
    }
    uri = "postgresql://ucj:Vq7xR2mN9pL4tK8w@warehouse/ucj"
    key = b"Qk2LwZ8mX4pR7tN1vB6yC9sD3fG5hJ0a"
    assert deployment.secret_problems(strong, uri, key) == []
    short = deployment.secret_problems({**strong, "AIRFLOW__API_AUTH__JWT_SECRET": "abc123"}, uri, key[:16])
    assert any("JWT_SECRET is shorter than 32" in p for p in short)
    assert any("16 bytes, shorter than 32" in p for p in short)
    empty = deployment.secret_problems({}, "postgresql://ucj@warehouse/ucj", None)
    assert len(empty) == 4
    assert all("is empty" in p for p in empty)


def test_production_refuses_to_open_the_warehouse_with_a_placeholder(monkeypatch) -> None:
    from ucj import warehouse

    monkeypatch.setenv("UCJ_REQUIRE_WAREHOUSE", "1")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgresql://ucj_loader:change-me-warehouse@127.0.0.1:9/ucj")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "change-me-jwt-secret")
    with pytest.raises(warehouse.WarehouseConfigError, match="refusing to run in production") as raised:
        warehouse.warehouse_uri()
    message = str(raised.value)
    assert "AIRFLOW__API_AUTH__JWT_SECRET is still the placeholder" in message
    assert "WAREHOUSE_PASSWORD" in message
    assert "change-me-warehouse@" not in message  # the secret itself is never repeated


compose = pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")


@compose
def test_compose_does_not_render_without_its_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WAREHOUSE", "BI_"))}
    failed = subprocess.run(
        ["docker-compose", "--env-file", str(empty), "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode != 0
    assert "set " in failed.stderr
    assert "in .env" in failed.stderr


@compose
def test_compose_binds_the_ui_and_the_warehouse_to_this_machine_by_default(tmp_path: Path) -> None:
    import yaml

    rendered = subprocess.run(
        ["docker-compose", "--env-file", str(ROOT / ".env.example"), "-f", str(ROOT / "docker-compose.yaml"), "config"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    services = yaml.safe_load(rendered)["services"]
    published = [p for service in services.values() for p in service.get("ports", [])]
    assert published
    assert all(str(p).startswith("127.0.0.1:") or (isinstance(p, dict) and p.get("host_ip") == "127.0.0.1")
               for p in published), published  # fmt: skip
    assert services["warehouse"]["environment"]["POSTGRES_USER"] == "postgres"
    assert "ucj_loader:" in services["airflow-scheduler"]["environment"]["AIRFLOW_CONN_WAREHOUSE"]
