"""The `zeroops` command: serve, migrate, cache-backfill."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import timedelta

import structlog
from aiohttp import web

from adapters.observability.logging import configure_logging
from adapters.postgres.migrate import migrate
from entrypoints.config import ConfigError, Settings, load_settings
from entrypoints.containers import Container
from entrypoints.http.app import create_app, provide, run_catch_up, settle

log = structlog.get_logger("zeroops")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 15m, 2h or 1d, got {text!r}")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zeroops", description="Alertmanager webhook receiver")
    parser.add_argument("--config", help="configuration file (default: config.yaml of the repository)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the webhook, /metrics, /healthz and /readyz")
    commands.add_parser("migrate", help="apply database migrations and exit")
    backfill = commands.add_parser("cache-backfill", help="copy recent changes from PostgreSQL into Redis once")
    backfill.add_argument("--since", type=parse_duration, default=timedelta(minutes=15), help="look-back, e.g. 15m")
    # Accept --config after the command too: `zeroops serve --config PATH`.
    for sub in commands.choices.values():
        sub.add_argument("--config", dest="config_after", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    try:
        settings = load_settings(args.config_after or args.config)
    except ConfigError as exc:
        print(f"zeroops: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level, settings.logging.format)

    if args.command == "serve":
        return serve(settings)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_backfill(settings, args.since))


def serve(settings: Settings) -> int:
    app = create_app(Container(settings=settings))
    log.info("server.starting", host=settings.server.host, port=settings.server.port)
    # run_app stops accepting on SIGTERM/SIGINT, lets in-flight requests finish, then runs the cleanup.
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        shutdown_timeout=settings.server.shutdown_timeout,
        access_log=None,
        print=None,
    )
    log.info("server.stopped")
    return 0


async def _migrate(settings: Settings) -> int:
    container = Container(settings=settings, wait_for_database=True)
    try:
        database = await provide(container.database)
    except Exception as exc:
        log.error("database.migrate_failed", error=str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        return 1
    try:
        applied = await migrate(database.pool())
        log.info("database.migrated", applied=[m.version for m in applied])
    finally:
        await settle(container.shutdown_resources())
    return 0


async def _backfill(settings: Settings, since: timedelta) -> int:
    container = Container(settings=settings, wait_for_database=True)
    try:
        await settle(container.init_resources())
        ok = await run_catch_up(await provide(container.catch_up_cache), container.metrics(), since)
    except Exception as exc:
        log.error("cache.backfill_failed", error=str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        return 1
    finally:
        await settle(container.shutdown_resources())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
