from cashfree_emulator.__main__ import parse_settings
from cashfree_emulator.settings import env_overrides


def test_env_vars_configure_the_default_merchant() -> None:
    overrides = env_overrides(
        {
            "EMULATOR_APP_ID": "APP",
            "EMULATOR_WEBHOOK_URLS": "http://a/hook, http://b/hook",
            "EMULATOR_WEBHOOK_RETRY_SCALE": "0.01",
            "UNRELATED": "x",
        }
    )
    assert overrides == {
        "app_id": "APP",
        "webhook_urls": ["http://a/hook", "http://b/hook"],
        "webhook_retry_scale": "0.01",
    }


def test_cli_flags() -> None:
    settings = parse_settings(
        [
            "--port",
            "9999",
            "--webhook-urls",
            "http://x/hook",
            "--refund-delay-seconds",
            "0.5",
            "--merchants",
            '[{"app_id": "B", "secret_key": "S"}]',
        ]
    )
    assert settings.port == 9999
    assert settings.webhook_urls == ["http://x/hook"]
    assert settings.refund_delay_seconds == 0.5
    assert [m.app_id for m in settings.initial_merchants()] == ["TEST_APP_ID", "B"]
