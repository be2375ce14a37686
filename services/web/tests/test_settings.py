"""The web pages' settings: what a deployment cannot get wrong."""

import pytest
from paycore_web.settings import Settings
from pydantic import ValidationError

SECRET = "web-session-secret-" + "s" * 32  # pragma: allowlist secret


def test_production_needs_https_and_secure_cookies() -> None:
    with pytest.raises(ValidationError, match="WEB_PUBLIC_URL must be https"):
        Settings(app_env="production", web_session_secret=SECRET)
    with pytest.raises(ValidationError, match="WEB_SECURE_COOKIES"):
        Settings(
            app_env="production",
            web_session_secret=SECRET,
            web_public_url="https://pay.example",
            web_secure_cookies=False,
        )
    settings = Settings(
        app_env="production", web_session_secret=SECRET, web_public_url="https://pay.example/"
    )
    assert settings.secure_cookies
    assert settings.web_public_url == "https://pay.example"


def test_development_defaults_work_over_plain_http() -> None:
    settings = Settings(app_env="development", web_session_secret=SECRET)
    assert not settings.secure_cookies
    assert settings.checkout_origin_list == ["http://127.0.0.1:8090"]


def test_a_short_session_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(web_session_secret="short")  # pragma: allowlist secret
