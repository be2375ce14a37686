import subprocess
import sys
from typing import Final

import pytest
from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings, JwtSettings, WebhookSecretSettings
from pydantic import SecretStr, ValidationError

SCRIPT = """
from paycore.kit.settings import CashfreeSettings, JwtSettings, load_settings
class Settings(CashfreeSettings, JwtSettings):
    pass
load_settings(Settings)
print("loaded")
"""


def run_loader(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_missing_variable_stops_startup_with_one_line_naming_it() -> None:
    result = run_loader({"CASHFREE_APP_ID": "app", "CASHFREE_SECRET_KEY": "secret"})
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "configuration error: JWT_SECRET is required (or JWT_SECRET_FILE)"
    )
    assert "Traceback" not in result.stderr


def test_malformed_variable_names_it() -> None:
    result = run_loader(
        {"CASHFREE_APP_ID": "app", "CASHFREE_SECRET_KEY": "s", "JWT_SECRET": "short"}
    )
    assert result.returncode == 2
    assert "JWT_SECRET: Value error, must be at least 32 characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_read_from_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-kubernetes-secret\n")
    monkeypatch.setenv("CASHFREE_APP_ID", "app")
    monkeypatch.setenv("CASHFREE_SECRET_KEY_FILE", str(secret_file))
    settings = CashfreeSettings()
    assert settings.cashfree_secret_key.get_secret_value() == "from-a-kubernetes-secret"
    assert "from-a-kubernetes-secret" not in repr(settings)


def test_webhook_secrets_rotate() -> None:
    settings = WebhookSecretSettings(cashfree_webhook_secret=SecretStr("old, new"))
    assert settings.webhook_secrets == [b"old", b"new"]


def test_jwt_secret_is_secret() -> None:
    settings = JwtSettings(jwt_secret=SecretStr("x" * 40))
    assert "xxxx" not in str(settings.model_dump())


PLAIN: Final = {
    "mongo_uri": "mongodb://db:27017/",
    "redis_url": "redis://cache:6379/0",
    "rabbitmq_url": "amqp://u:p@broker:5672/",
}
SECURE: Final = {
    "mongo_uri": "mongodb://db:27017/?replicaSet=rs0&tls=true",
    "redis_url": "rediss://cache:6380/0",
    "rabbitmq_url": "amqps://u:p@broker:5671/",
}


class TestProductionTransport:
    @pytest.mark.parametrize("name", ["mongo_uri", "redis_url", "rabbitmq_url"])
    def test_production_refuses_each_plaintext_url(self, name: str) -> None:
        values = {**SECURE, name: PLAIN[name]}
        with pytest.raises(ValidationError, match="has no TLS"):
            InfraSettings(app_env="production", **values)  # type: ignore[arg-type]

    def test_tls_urls_pass_and_srv_implies_tls(self) -> None:
        InfraSettings(app_env="production", **SECURE)  # type: ignore[arg-type]
        srv = {**SECURE, "mongo_uri": "mongodb+srv://u:p@cluster.example/"}
        InfraSettings(app_env="production", **srv)  # type: ignore[arg-type]
        off = {**SECURE, "mongo_uri": "mongodb+srv://cluster.example/?tls=false"}
        with pytest.raises(ValidationError, match="MONGO_URI has no TLS"):
            InfraSettings(app_env="production", **off)  # type: ignore[arg-type]

    def test_an_explicit_setting_allows_plaintext_and_other_envs_do_not_care(self) -> None:
        InfraSettings(app_env="production", allow_plaintext_transport=True, **PLAIN)  # type: ignore[arg-type]
        InfraSettings(app_env="staging", **PLAIN)  # type: ignore[arg-type]


def test_a_rule_across_variables_is_one_plain_line() -> None:
    result = run_loader(
        {
            "CASHFREE_APP_ID": "app",
            "CASHFREE_SECRET_KEY": "s",
            "JWT_SECRET": "j" * 32,
            "JWT_HS256_ENABLED": "false",
        }
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: JWT_HS256_ENABLED=false needs JWT_JWKS_URL (or nobody can log in)"
    )
