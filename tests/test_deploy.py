"""The production shape in deploy/compose.yaml holds together (no Docker engine here to
run it): services, ordering by health, shutdown windows, settings the app knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8")))


def test_services_start_in_order_of_health() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "migrate", "api", "lb"}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["api"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["lb"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert "runstrong migrate" in " ".join(services["migrate"]["command"])
    assert services["api"]["command"][:2] == ["runstrong", "serve"]
    for name in ("postgres", "api", "lb"):
        assert services[name]["healthcheck"]["test"], name
    assert any("/readyz" in part for part in services["api"]["healthcheck"]["test"])
    assert services["migrate"]["build"]["dockerfile"] == "Dockerfile"
    assert (DEPLOY.parent / "Dockerfile").exists()
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    # The edge sets the client address itself: clients cannot choose what they are counted as.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "location = /metrics { return 404; }" in nginx


def test_api_settings_are_valid_and_shutdown_fits_in_the_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    api = compose()["services"]["api"]
    env = {k: str(v) for k, v in api["environment"].items()}
    known = {name.upper() for name in Settings.model_fields}
    known |= {"DATABASE_URL", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}
    for name in env:
        assert name.removeprefix("RUNSTRONG_") in known, f"{name} is not a setting"
    env["RUNSTRONG_SECRET_KEY"] = "s" * 40  # compose takes it from the operator's environment
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.environment == "production" and settings.rate_limited
    assert settings.cors_origins == ["https://app.runstrong.example"]
    grace_s = int(api["stop_grace_period"].removesuffix("s"))
    assert grace_s > settings.graceful_shutdown_s
    pool = settings.db_pool_size + settings.db_max_overflow
    max_connections = int(compose()["services"]["postgres"]["command"][2].split("=")[1])
    assert 3 * settings.workers * pool < max_connections  # three replicas fit, as the file says


def test_metrics_have_their_own_port_which_only_the_internal_network_sees() -> None:
    services = compose()["services"]
    api = services["api"]
    port = str(api["environment"]["RUNSTRONG_METRICS_PORT"])
    assert port in api["expose"] and "ports" not in api
    assert all(port not in str(published) for published in services["lb"]["ports"])
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert f"server api:{port}" not in nginx  # the load balancer proxies only the API's port
