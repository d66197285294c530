"""A real Alertmanager, run from examples/alertmanager.yml against the service under test.

The example file is the one users copy: the harness only rewrites what a test must
(the receiver's address and credentials, max_alerts, and short timings) so that the
tests prove the example itself works.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "alertmanager.yml"
RECEIVER = "zeroops"
BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")
INSTALL_HINT = (
    "apt-get install prometheus-alertmanager "
    "(or put an `alertmanager` binary from https://github.com/prometheus/alertmanager/releases on PATH)"
)

T = TypeVar("T")


def alertmanager_binary() -> str:
    """The Alertmanager binary; a skip where it is missing, but a failure under CI (CI=true)."""
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = f"no Alertmanager binary ({' or '.join(BINARY_NAMES)}) on PATH: {INSTALL_HINT}"
    # Under CI a missing binary must not pass quietly as a skip: the tests would prove nothing.
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def example_config() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))


def webhook_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The example's one webhook entry of the `zeroops` receiver."""
    receivers = [r for r in config.get("receivers", []) if r.get("name") == RECEIVER]
    assert len(receivers) == 1, f"{EXAMPLE_CONFIG}: expected one receiver named {RECEIVER!r}"
    webhooks = receivers[0].get("webhook_configs") or []
    assert len(webhooks) == 1, f"{EXAMPLE_CONFIG}: expected one webhook_configs entry in {RECEIVER!r}"
    return webhooks[0]


def config_for_test(
    service_url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    max_alerts: int | None = None,
    group_wait: str = "200ms",
    group_interval: str = "1s",
    repeat_interval: str = "1s",
) -> dict[str, Any]:
    """The example with the test's receiver address (keeping the example's path), credentials and timings."""
    config = example_config()
    assert config["route"]["receiver"] == RECEIVER, f"{EXAMPLE_CONFIG}: the route must lead to {RECEIVER!r}"
    config["route"].update(group_wait=group_wait, group_interval=group_interval, repeat_interval=repeat_interval)
    webhook = webhook_config(config)
    webhook["url"] = f"{service_url.rstrip('/')}{urlsplit(webhook['url']).path}"
    if max_alerts is not None:
        webhook["max_alerts"] = max_alerts
    basic_auth = webhook["http_config"]["basic_auth"]
    if username is not None:
        basic_auth["username"] = username
    if password is not None:
        basic_auth["password"] = password
    return config


def example_credentials() -> tuple[str, str]:
    basic_auth = webhook_config(example_config())["http_config"]["basic_auth"]
    return basic_auth["username"], basic_auth["password"]


@dataclass
class Alertmanager:
    """A running Alertmanager: its API, its metrics, and the log it wrote."""

    url: str
    log_path: Path
    session: aiohttp.ClientSession

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        async with self.session.post(f"{self.url}/api/v2/alerts", json=alerts) as response:
            assert response.status == 200, f"POST /api/v2/alerts: {response.status} {await response.text()}"

    async def alerts(self) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.url}/api/v2/alerts") as response:
            assert response.status == 200, f"GET /api/v2/alerts: {response.status}"
            return await response.json()

    async def metrics(self) -> str:
        async with self.session.get(f"{self.url}/metrics") as response:
            assert response.status == 200, f"GET /metrics: {response.status}"
            return await response.text()

    async def metric(self, name: str, **labels: str) -> float:
        return metric_value(await self.metrics(), name, **labels)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.asynccontextmanager
async def running_alertmanager(
    workdir: Path, config: Mapping[str, Any] | Path, binary: str | None = None, ready_timeout: float = 15.0
) -> AsyncIterator[Alertmanager]:
    """Start Alertmanager (no clustering) on a free loopback port; always killed on the way out.

    `config` is a parsed configuration, or a file to load as it is.
    """
    binary = binary or alertmanager_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, Path):
        config_path = config
    else:
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(dict(config), allow_unicode=True, sort_keys=False), encoding="utf-8")
    port = _free_port()
    log_path = workdir / "alertmanager.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            am = Alertmanager(url=f"http://127.0.0.1:{port}", log_path=log_path, session=session)
            await _wait_ready(am, process, ready_timeout)
            yield am
    except BaseException:
        # Shown by pytest with the failure: what Alertmanager tried and what it was answered.
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        print(f"--- last lines of {log_path} ---\n{tail}")
        raise
    finally:
        await _kill(process)


async def _wait_ready(am: Alertmanager, process: asyncio.subprocess.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"Alertmanager exited with {process.returncode}:\n{am.log()}")
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with am.session.get(f"{am.url}/-/ready") as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Alertmanager not ready after {timeout}s:\n{am.log()}")
        await asyncio.sleep(0.1)


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there are none).

    Summing keeps a check stable across versions that add labels (Alertmanager 0.26 adds `reason`).
    """
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def eventually(fn: Callable[[], T | Awaitable[T]], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Call `fn` (sync or async) until it returns without an AssertionError; then return its value.

    Waits with asyncio.sleep, never time.sleep: the service under test runs on this event loop.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = fn()
            if inspect.isawaitable(result):
                result = await result
            return result  # type: ignore[return-value]
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)
