import pytest

from domain.model import Level
from entrypoints.config import ConfigError, load_settings


@pytest.fixture
def config_file(tmp_path):
    def write(text: str):
        path = tmp_path / "config.yaml"
        path.write_text(text)
        return path

    return write


def test_the_repository_config_loads_with_the_documented_defaults():
    settings = load_settings()
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8080)
    assert (settings.webhook.max_alerts, settings.webhook.max_body_bytes) == (5000, 10 * 1024 * 1024)
    assert settings.webhook.request_timeout == 10
    assert settings.cache.issue_ttl_seconds == 3 * 24 * 3600 and settings.cache.idempotency_ttl_seconds == 600


def test_environment_variables_override_the_file(monkeypatch):
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "6543",
        "DB_USER": "zero",
        "DB_PASSWORD": "p:a#ss",
        "DB_NAME": "ops",
        "DB_SSLMODE": "require",
        "REDIS_ADDR": "cache:6380",
        "REDIS_PASSWORD": "r",
        "REDIS_DB": "3",
        "ALERT_WEBHOOK_BASIC_USER": "alert",
        "ALERT_WEBHOOK_BASIC_PASS": "s3cret",
        "ALERT_WEBHOOK_BEARER": "tok",
        "SERVER_BIND_ADDR": "127.0.0.1:9090",
        "LOG_LEVEL": "DEBUG",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert (s.database.host, s.database.port, s.database.user, s.database.password) == (
        "db.internal",
        6543,
        "zero",
        "p:a#ss",
    )
    assert (s.database.name, s.database.sslmode) == ("ops", "require")
    assert (s.redis.host, s.redis.port, s.redis.password, s.redis.db) == ("cache", 6380, "r", 3)
    assert (s.webhook.basic_user, s.webhook.basic_pass, s.webhook.bearer) == ("alert", "s3cret", "tok")
    assert (s.server.host, s.server.port, s.logging.level) == ("127.0.0.1", 9090, "debug")


def test_an_empty_db_password_means_none(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "")
    settings = load_settings()
    assert settings.database.password == ""
    assert "password" not in settings.database.dsn()


def test_secrets_stay_out_of_the_settings_repr(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    monkeypatch.setenv("ALERT_WEBHOOK_BASIC_USER", "alert")
    monkeypatch.setenv("ALERT_WEBHOOK_BASIC_PASS", "s3cret-pass")
    monkeypatch.setenv("ALERT_WEBHOOK_BEARER", "bearer-token")
    text = repr(load_settings())
    assert not any(secret in text for secret in ("hunter2", "s3cret-pass", "bearer-token"))


@pytest.mark.parametrize(
    "variable, value, key",
    [
        ("DB_PORT", "five", "database.port"),
        ("DB_PORT", "70000", "database.port"),
        ("REDIS_ADDR", "localhost", "redis.addr"),
        ("SERVER_BIND_ADDR", "0.0.0.0:http", "server.bind_addr"),
        ("LOG_LEVEL", "chatty", "logging.level"),
        ("DB_SSLMODE", "maybe", "database.sslmode"),
        ("WEBHOOK_MAX_ALERTS", "0", "webhook.max_alerts"),
        ("REDIS_DB", "-1", "redis.db"),
        ("DB_MIGRATE_ON_START", "perhaps", "database.migrate_on_start"),
    ],
)
def test_a_bad_value_stops_the_start_naming_its_key(monkeypatch, variable, value, key):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{key}: "):
        load_settings()


def test_basic_auth_needs_both_user_and_password(monkeypatch):
    monkeypatch.setenv("ALERT_WEBHOOK_BASIC_USER", "alert")
    with pytest.raises(ConfigError, match="webhook.basic_user and webhook.basic_pass"):
        load_settings()


def test_severity_levels_map_to_known_levels_only(config_file):
    good = load_settings(config_file("alerts:\n  severity_levels:\n    Critical: P0\n"))
    assert good.severity_levels == {"critical": Level.P0}
    with pytest.raises(ConfigError, match="alerts.severity_levels.critical: expected one of P0, P1, P2, Warning"):
        load_settings(config_file("alerts:\n  severity_levels:\n    critical: P9\n"))


def test_a_missing_file_or_bad_yaml_is_a_config_error(tmp_path, config_file):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError):
        load_settings(config_file("server: [unclosed\n"))
