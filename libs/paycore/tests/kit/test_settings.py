import subprocess
import sys

import pytest
from paycore.kit.settings import CashfreeSettings, JwtSettings, WebhookSecretSettings
from pydantic import SecretStr

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
