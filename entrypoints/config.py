"""Settings: config.yaml with `${ENV:default}` overrides, checked into typed values.

The Configuration provider loads the file and interpolates the environment; the checks
below then turn it into typed settings, and a bad value stops the start with a message
naming its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.postgres.database import DatabaseSettings
from adapters.redis.client import RedisSettings
from domain.model import Level

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    shutdown_timeout: float


@dataclass(frozen=True)
class WebhookSettings:
    basic_user: str
    basic_pass: str = field(repr=False)
    bearer: str = field(repr=False)
    max_alerts: int
    max_body_bytes: int
    request_timeout: float
    retry_after_seconds: int

    @property
    def open(self) -> bool:
        return not (self.basic_user or self.bearer)


@dataclass(frozen=True)
class CacheSettings:
    issue_ttl_seconds: int
    idempotency_ttl_seconds: int
    catchup_interval_seconds: float
    catchup_lookback_seconds: float


@dataclass(frozen=True)
class LoggingSettings:
    level: str
    format: str


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    database: DatabaseSettings
    redis: RedisSettings
    webhook: WebhookSettings
    cache: CacheSettings
    logging: LoggingSettings
    severity_levels: Mapping[str, Level]


def load_settings(path: str | Path | None = None) -> Settings:
    path = Path(path or DEFAULT_CONFIG).resolve()
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    config = providers.Configuration()
    try:
        config.from_yaml(str(path), required=True, envs_required=False)
    except Exception as exc:  # a YAML syntax error, reported as such
        raise ConfigError(f"{path}: {exc}") from None
    return parse_settings(config() or {})


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    root = _Section(raw, "")
    server, database, redis, webhook = (root.section(n) for n in ("server", "database", "redis", "webhook"))
    cache, logging, alerts = root.section("cache"), root.section("logging"), root.section("alerts")

    bind_host, bind_port = server.host_port("bind_addr", "0.0.0.0:8080")
    redis_host, redis_port = redis.host_port("addr", "127.0.0.1:6379")
    basic_user, basic_pass = webhook.text("basic_user", ""), webhook.text("basic_pass", "")
    if bool(basic_user) != bool(basic_pass):
        raise ConfigError("webhook.basic_user and webhook.basic_pass: set both or neither")
    return Settings(
        server=ServerSettings(bind_host, bind_port, server.number("shutdown_timeout", 15, low=0)),
        database=DatabaseSettings(
            host=database.text("host", "127.0.0.1", required=True),
            port=database.integer("port", 5432, low=1, high=65535),
            user=database.text("user", "postgres", required=True),
            password=database.text("password", ""),
            name=database.text("name", "zeroops", required=True),
            sslmode=database.choice("sslmode", SSL_MODES, "disable"),
            pool_min=database.integer("pool_min", 1, low=0),
            pool_max=database.integer("pool_max", 10, low=1),
            connect_timeout=database.number("connect_timeout", 3, low=1),
            statement_timeout=database.number("statement_timeout", 8, low=0.1),
            migrate_on_start=database.boolean("migrate_on_start", True),
        ),
        redis=RedisSettings(
            host=redis_host,
            port=redis_port,
            password=redis.text("password", ""),
            db=redis.integer("db", 0, low=0),
            timeout=redis.number("timeout", 0.5, low=0.01),
            circuit_cooldown_seconds=redis.number("circuit_cooldown_seconds", 2, low=0),
        ),
        webhook=WebhookSettings(
            basic_user=basic_user,
            basic_pass=basic_pass,
            bearer=webhook.text("bearer", ""),
            max_alerts=webhook.integer("max_alerts", 5000, low=1),
            max_body_bytes=webhook.integer("max_body_bytes", 10 * 1024 * 1024, low=1024),
            request_timeout=webhook.number("request_timeout", 10, low=0.1),
            retry_after_seconds=webhook.integer("retry_after_seconds", 5, low=0),
        ),
        cache=CacheSettings(
            issue_ttl_seconds=cache.integer("issue_ttl_seconds", 3 * 24 * 3600, low=1),
            idempotency_ttl_seconds=cache.integer("idempotency_ttl_seconds", 600, low=1),
            catchup_interval_seconds=cache.number("catchup_interval_seconds", 60, low=0),
            catchup_lookback_seconds=cache.number("catchup_lookback_seconds", 900, low=1),
        ),
        logging=LoggingSettings(
            level=logging.choice("level", LOG_LEVELS, "info"),
            format=logging.choice("format", ("json", "console"), "json"),
        ),
        severity_levels=alerts.levels("severity_levels"),
    )


_MISSING = object()


class _Section:
    def __init__(self, raw: object, path: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path or 'config'}: expected a mapping")
        self._raw = raw
        self._path = path

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def section(self, name: str) -> _Section:
        return _Section(self._raw.get(name), self.key(name))

    def _get(self, name: str, default: object) -> object:
        value = self._raw.get(name, _MISSING)
        return default if value is _MISSING or value is None else value

    def text(self, name: str, default: str | None = None, required: bool = False) -> str:
        value = self._get(name, default)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or (required and not value.strip()):
            raise ConfigError(f"{self.key(name)}: expected a non-empty string, got {value!r}")
        return value

    def integer(self, name: str, default: int, low: int | None = None, high: int | None = None) -> int:
        value = self._get(name, default)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected an integer, got {value!r}")
        return self._in_range(name, value, low, high)

    def number(self, name: str, default: float, low: float | None = None) -> float:
        value = self._get(name, default)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected a number, got {value!r}")
        return self._in_range(name, float(value), low, None)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            value = value.strip().lower() in ("true", "yes", "1", "on")
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected true or false, got {value!r}")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, default).strip().lower()
        if value not in choices:
            raise ConfigError(f"{self.key(name)}: expected one of {', '.join(choices)}, got {value!r}")
        return value

    def host_port(self, name: str, default: str) -> tuple[str, int]:
        value = self.text(name, default, required=True).strip()
        match = re.fullmatch(r"\[?([^\[\]]*)\]?:(\d{1,5})", value)
        if not match or not 0 < int(match[2]) < 65536:
            raise ConfigError(f"{self.key(name)}: expected host:port, got {value!r}")
        return match[1] or "0.0.0.0", int(match[2])

    def levels(self, name: str) -> dict[str, Level]:
        raw = self._get(name, {})
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{self.key(name)}: expected a mapping of severity to level")
        levels = {}
        for severity, level in raw.items():
            try:
                levels[str(severity).strip().lower()] = Level(str(level).strip())
            except ValueError:
                allowed = ", ".join(lv.value for lv in Level)
                raise ConfigError(f"{self.key(name)}.{severity}: expected one of {allowed}, got {level!r}") from None
        return levels

    def _in_range(self, name: str, value: Any, low: Any, high: Any) -> Any:
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"{self.key(name)}: expected {bounds}, got {value!r}")
        return value
