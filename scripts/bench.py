#!/usr/bin/env python3
"""Throughput and latency benchmark of the real `zeroops serve` process, over loopback.

    .venv/bin/python scripts/bench.py            # defaults: well under 2 minutes
    .venv/bin/python scripts/bench.py --quick    # about 15 seconds
    .venv/bin/python scripts/bench.py --json     # also a machine-readable document at the end

It prints figures and never asserts. It uses its own PostgreSQL database `zeroops_bench`
(created when missing, migrated by the service at start) and Redis db 14, and empties
both before each scenario; nothing else is touched.

Scenarios (each bounded by a request count and by a time limit, whichever comes first):
  1 new-1        notifications of 1 new firing alert each
  2 new-100      notifications of 100 new firing alerts each
  3 dup-1        one 1-alert notification redelivered over and over (Redis pre-filter path)
    dup-100      one 100-alert notification redelivered over and over
  4 fire-10      notifications of 10 new firing alerts (set-up of the next row)
    resolve-10   the same alerts resolved, 10 per notification (resolved path)
  5 batch-5000   one notification of 5,000 new alerts (webhook.max_alerts), then the same
                 redelivered, then all 5,000 resolved (the multi-row batch path)

The machine is shared with PostgreSQL, Redis and this client: absolute figures are noisy,
ratios between rows of one run (duplicates vs new, 100-alert vs 1-alert) are the signal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

try:
    import aiohttp
    import psycopg2
    import redis
except ImportError:  # run by another interpreter: use the project's venv, once
    if (
        VENV_PYTHON.exists()
        and Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve()
        and not os.environ.get("ZEROOPS_BENCH_REEXEC")
    ):
        os.environ["ZEROOPS_BENCH_REEXEC"] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    raise

DB_NAME = "zeroops_bench"
REDIS_DB = 14
TABLES = ("alert_issues", "service_states", "alert_rejections")
WEBHOOK = "/v1/integrations/alertmanager/webhook"
MAX_ALERTS = 5000
STEPS = ("parse", "validate", "dedup", "persist", "cache")


# ───────────────────────────── payloads ─────────────────────────────


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: 64-bit FNV-1a over `name 0xff value 0xff`, labels sorted by name."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ 0xFF) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertFactory:
    """Alerts with unique label sets (a counter), hence unique fingerprints, and RFC 3339 times."""

    SEVERITIES = ("P0", "P1", "P2", "warning", "critical")

    def __init__(self, run_id: str, services: int) -> None:
        self.run_id = run_id
        self.services = services
        self.counter = 0
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def firing(self) -> dict[str, Any]:
        n = self.counter
        self.counter += 1
        labels = {
            "alertname": f"BenchAlert{n % 37}",
            "service": f"bench-svc-{n % self.services}",
            "service_version": "v1.0.0",
            "severity": self.SEVERITIES[n % len(self.SEVERITIES)],
            "idc": "bench",
            "instance": f"10.0.{(n // 256) % 256}.{n % 256}:9100",
            "bench_run": self.run_id,
            "bench_seq": str(n),
        }
        starts = self.base + timedelta(milliseconds=n)
        return {
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": f"bench alert {n} over threshold", "description": "synthetic load"},
            "startsAt": rfc3339(starts),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.bench/graph?g0.expr=bench_{n % 37}",
            "fingerprint": fingerprint(labels),
        }


def resolved(alert: dict[str, Any]) -> dict[str, Any]:
    starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
    return {**alert, "status": "resolved", "endsAt": rfc3339(starts + timedelta(minutes=5))}


def notification(alerts: list[dict[str, Any]], status: str = "firing") -> bytes:
    common = {"idc": "bench"}
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}/{bench="yes"}:{alertname="BenchAlert"}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "bench-webhook",
            "groupLabels": {"alertname": "BenchAlert"},
            "commonLabels": common,
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": alerts,
        }
    ).encode()


# ───────────────────────────── service and stores ─────────────────────────────


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_params(name: str) -> dict[str, Any]:
    return {
        "host": os.environ.get("DB_HOST", "127.0.0.1"),
        "port": int(os.environ.get("DB_PORT", "5432")),
        "user": os.environ.get("DB_USER", "postgres"),
        "password": os.environ.get("DB_PASSWORD") or None,
        "dbname": name,
    }


def ensure_database() -> None:
    conn = psycopg2.connect(**db_params("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{DB_NAME}"')
            print(f"created database {DB_NAME}")
    conn.close()


class Stores:
    """Direct access to the bench database and Redis db, outside the service."""

    def __init__(self) -> None:
        self.pg = psycopg2.connect(**db_params(DB_NAME), options="-c timezone=UTC")
        self.pg.autocommit = True
        addr = os.environ.get("REDIS_ADDR", "127.0.0.1:6379")
        host, _, port = addr.rpartition(":")
        self.redis = redis.Redis(
            host=host or "127.0.0.1",
            port=int(port),
            db=REDIS_DB,
            password=os.environ.get("REDIS_PASSWORD") or None,
            decode_responses=True,
        )

    def empty(self) -> None:
        with self.pg.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(TABLES)}")
        self.redis.flushdb()

    def snapshot(self) -> dict[str, int]:
        with self.pg.cursor() as cur:
            cur.execute(
                "SELECT count(*) FILTER (WHERE state = 'Open'), count(*) FILTER (WHERE state = 'Closed'),"
                " (SELECT count(*) FROM service_states), (SELECT count(*) FROM alert_rejections)"
                " FROM alert_issues"
            )
            open_, closed, states, rejections = cur.fetchone()
        return {
            "open": open_,
            "closed": closed,
            "service_states": states,
            "rejections": rejections,
            "redis_keys": self.redis.dbsize(),
        }

    def versions(self) -> dict[str, str]:
        with self.pg.cursor() as cur:
            cur.execute("SHOW server_version")
            pg = cur.fetchone()[0]
        return {"postgresql": pg, "redis": str(self.redis.info("server").get("redis_version"))}

    def close(self) -> None:
        self.pg.close()
        self.redis.close()


class Service:
    def __init__(self, keep_log: bool) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        fd, path = tempfile.mkstemp(prefix="zeroops-bench-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        self.keep_log = keep_log
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self.shutdown_seconds: float | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DB_NAME": DB_NAME,
            "REDIS_DB": str(REDIS_DB),
            "SERVER_BIND_ADDR": f"127.0.0.1:{self.port}",
            "LOG_LEVEL": "warning",
            "LOG_FORMAT": "json",
            "CACHE_CATCHUP_INTERVAL": "0",
        }
        for name in ("ALERT_WEBHOOK_BASIC_USER", "ALERT_WEBHOOK_BASIC_PASS", "ALERT_WEBHOOK_BEARER"):
            env.pop(name, None)  # an open webhook: the bench measures processing, not auth
        exe = ROOT / ".venv" / "bin" / "zeroops"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(exe), "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 60.0) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode} before it was ready")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.get(self.base + "/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            await asyncio.sleep(0.1)
        raise RuntimeError(f"/readyz not 200 within {timeout:.0f} s")

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            self.exit_code = self.proc.returncode if self.proc else None
            return
        start = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.exit_code = self.proc.wait()
            print("service did not stop within 30 s of SIGTERM: killed")
        self.shutdown_seconds = time.perf_counter() - start

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the service process so far (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def log_summary(self) -> dict[str, Any]:
        events: Counter[str] = Counter()
        samples: list[str] = []
        other = 0
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                doc = json.loads(line)
                key = f"{doc.get('level', '?')}:{doc.get('event', '?')}"
            except (json.JSONDecodeError, AttributeError):
                other += 1
                key = "non-json"
                doc = None
            events[key] += 1
            if (doc is None or doc.get("level") in ("error", "critical")) and len(samples) < 5:
                samples.append(line[:400])
        return {"lines": len(lines), "events": dict(events.most_common()), "samples": samples}

    def tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def cleanup(self) -> None:
        if not self.keep_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink()


# ───────────────────────────── metrics ─────────────────────────────

_SAMPLE = re.compile(r"^(zeroops_[a-z_]+)(?:\{([^}]*)\})?\s+(\S+)$")


async def scrape(session: aiohttp.ClientSession, base: str) -> dict[tuple[str, str], float]:
    samples: dict[tuple[str, str], float] = {}
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
        async with session.get(base + "/metrics", timeout=aiohttp.ClientTimeout(total=5)) as r:
            for line in (await r.text()).splitlines():
                m = _SAMPLE.match(line)
                if m:
                    with contextlib.suppress(ValueError):
                        samples[(m[1], m[2] or "")] = float(m[3])
    return samples


def metric_delta(before: dict, after: dict) -> dict[str, Any]:
    def d(name: str, labels: str) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    # Per notification (the parse step runs once for each): `cache` is observed twice per
    # notification (issue keys, then idempotency keys), `persist` not at all for all-duplicates.
    notifications = d("zeroops_webhook_step_duration_seconds_count", 'step="parse"')
    steps = {}
    for step in STEPS:
        count = d("zeroops_webhook_step_duration_seconds_count", f'step="{step}"')
        total = d("zeroops_webhook_step_duration_seconds_sum", f'step="{step}"')
        if notifications:
            steps[step] = {"observations": int(count), "ms_per_notification": round(total / notifications * 1000, 3)}
    counters = {}
    for (name, labels), value in after.items():
        if name in (
            "zeroops_alerts_total",
            "zeroops_redis_errors_total",
            "zeroops_db_errors_total",
            "zeroops_notifications_total",
        ):
            delta = value - before.get((name, labels), 0.0)
            if delta:
                counters[f"{name.removeprefix('zeroops_')}{{{labels}}}"] = int(delta)
    return {"steps": steps, "counters": counters}


# ───────────────────────────── load ─────────────────────────────


@dataclass
class Result:
    name: str
    description: str
    planned: int
    alerts_per_request: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    outcome: Counter = field(default_factory=Counter)
    wall: float = 0.0
    time_limited: bool = False
    errors: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    stores: dict[str, int] = field(default_factory=dict)
    service_cpu: float | None = None
    client_cpu: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def alerts(self) -> int:
        return self.requests * self.alerts_per_request

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "requests": self.requests,
            "planned_requests": self.planned,
            "time_limited": self.time_limited,
            "alerts_per_request": self.alerts_per_request,
            "alerts": self.alerts,
            "wall_s": round(self.wall, 4),
            "alerts_per_s": round(self.alerts / self.wall, 1) if self.wall else None,
            "requests_per_s": round(self.requests / self.wall, 1) if self.wall else None,
            "latency_ms": {k: round(self.pct(p), 2) for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
            "statuses": dict(self.statuses),
            "outcome": dict(self.outcome),
            "errors": self.errors[:5],
            "service_metrics": self.metrics,
            "stores_after": self.stores,
            "service_cpu_s": None if self.service_cpu is None else round(self.service_cpu, 3),
            "client_cpu_s": None if self.client_cpu is None else round(self.client_cpu, 3),
        }


async def drive(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], result: Result, concurrency: int, time_limit: float
) -> None:
    """Send `bodies` in order with `concurrency` workers; no new request after `time_limit`."""
    headers = {"Content-Type": "application/json", "User-Agent": "zeroops-bench"}
    next_index = 0
    start = time.perf_counter()
    deadline = start + time_limit

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(bodies):
            if time.perf_counter() >= deadline:
                result.time_limited = True
                return
            body = bodies[next_index]
            next_index += 1
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    status = str(response.status)
            except (TimeoutError, aiohttp.ClientError) as exc:
                status, payload = f"exc:{type(exc).__name__}", b""
                if len(result.errors) < 5:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] += 1
            if status == "200":
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    doc = json.loads(payload)
                    for key in ("created", "resolved", "duplicates", "rejected"):
                        result.outcome[key] += int(doc.get(key, 0))
            elif len(result.errors) < 5 and not status.startswith("exc:"):
                result.errors.append(f"{status}: {payload[:300].decode(errors='replace')}")

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(bodies))))))
    result.wall = time.perf_counter() - start


class Bench:
    def __init__(
        self, args: argparse.Namespace, service: Service, stores: Stores, session: aiohttp.ClientSession
    ) -> None:
        self.args = args
        self.service = service
        self.stores = stores
        self.session = session
        self.url = service.base + WEBHOOK
        self.factory = AlertFactory(run_id=f"{os.getpid()}-{int(time.time())}", services=args.services)
        self.results: list[Result] = []

    async def post(self, body: bytes) -> int:
        async with self.session.post(self.url, data=body, headers={"Content-Type": "application/json"}) as r:
            await r.read()
            return r.status

    async def measure(
        self,
        name: str,
        description: str,
        bodies: list[bytes],
        alerts_per_request: int,
        concurrency: int | None = None,
        time_limit: float | None = None,
    ) -> Result:
        result = Result(name, description, len(bodies), alerts_per_request)
        before = await scrape(self.session, self.service.base)
        cpu_before, client_before = self.service.cpu_seconds(), time.process_time()
        await drive(
            self.session,
            self.url,
            bodies,
            result,
            concurrency or self.args.concurrency,
            time_limit if time_limit is not None else self.args.time_limit,
        )
        cpu_after, result.client_cpu = self.service.cpu_seconds(), time.process_time() - client_before
        if cpu_before is not None and cpu_after is not None:
            result.service_cpu = cpu_after - cpu_before
        result.metrics = metric_delta(before, await scrape(self.session, self.service.base))
        result.stores = self.stores.snapshot()
        self.results.append(result)
        print_result(result)
        return result

    def fresh(self, n: int) -> list[dict[str, Any]]:
        return [self.factory.firing() for _ in range(n)]

    async def run(self) -> None:
        n, c = self.args.requests, self.args.concurrency
        n100 = max(c, n // 10)

        # Warm-up, not measured: connections, the service's pool growing to its size, caches.
        self.stores.empty()
        warm = Result("warm-up", "", 0, 1)
        await drive(self.session, self.url, [notification(self.fresh(10)) for _ in range(8 * c)], warm, c, 5.0)
        if set(warm.statuses) != {"200"}:
            print(f"warm-up statuses: {dict(warm.statuses)} {warm.errors[:2]}")

        self.stores.empty()
        await self.measure(
            "new-1", "1 new firing alert per notification", [notification(self.fresh(1)) for _ in range(n)], 1
        )

        self.stores.empty()
        await self.measure(
            "new-100",
            "100 new firing alerts per notification",
            [notification(self.fresh(100)) for _ in range(n100)],
            100,
        )

        self.stores.empty()
        body = notification(self.fresh(1))
        await self.post(body)  # first delivery, not measured
        await self.measure("dup-1", "the same 1-alert notification redelivered", [body] * n, 1)

        self.stores.empty()
        body = notification(self.fresh(100))
        await self.post(body)
        await self.measure("dup-100", "the same 100-alert notification redelivered", [body] * n100, 100)

        self.stores.empty()
        groups = [self.fresh(10) for _ in range(max(c, n // 4))]
        fired = await self.measure(
            "fire-10", "10 new firing alerts per notification (set-up)", [notification(g) for g in groups], 10
        )
        sent = groups[: fired.requests]  # only what the time limit let through
        await self.measure(
            "resolve-10",
            "the same alerts resolved, 10 per notification",
            [notification([resolved(a) for a in g], status="resolved") for g in sent],
            10,
        )

        if not self.args.no_batch:
            self.stores.empty()
            batch = self.fresh(MAX_ALERTS)
            body = notification(batch)
            limit = max(self.args.time_limit, 30.0)
            await self.measure(
                "batch-5000",
                f"one notification of {MAX_ALERTS} new alerts",
                [body],
                MAX_ALERTS,
                concurrency=1,
                time_limit=limit,
            )
            await self.measure(
                "batch-5000-dup",
                "the same 5,000-alert notification redelivered",
                [body],
                MAX_ALERTS,
                concurrency=1,
                time_limit=limit,
            )
            await self.measure(
                "batch-5000-res",
                "the 5,000 alerts resolved in one notification",
                [notification([resolved(a) for a in batch], status="resolved")],
                MAX_ALERTS,
                concurrency=1,
                time_limit=limit,
            )


# ───────────────────────────── output ─────────────────────────────


def print_result(r: Result) -> None:
    rate = lambda x: f"{x / r.wall:,.1f}" if r.wall else "-"  # noqa: E731
    limited = f" (time limit reached: {r.requests} of {r.planned} sent)" if r.time_limited else ""
    print(f"\n[{r.name}] {r.description}{limited}")
    print(
        f"  requests {r.requests:,}  alerts {r.alerts:,}  wall {r.wall:.3f} s  "
        f"alerts/s {rate(r.alerts)}  requests/s {rate(r.requests)}"
    )
    print(f"  latency ms  p50 {r.pct(50):.2f}  p90 {r.pct(90):.2f}  p99 {r.pct(99):.2f}  max {r.pct(100):.2f}")
    statuses = "  ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items()))
    non200 = sum(v for k, v in r.statuses.items() if k != "200")
    print(f"  status  {statuses}" + (f"   <-- {non200} NOT 200" if non200 else ""))
    print(
        "  answered  "
        + "  ".join(f"{k} {r.outcome.get(k, 0):,}" for k in ("created", "resolved", "duplicates", "rejected"))
    )
    if r.service_cpu is not None and r.wall:
        print(
            f"  CPU: service {r.service_cpu:.2f} s ({r.service_cpu / r.wall:.0%} of one core), "
            f"bench client {r.client_cpu:.2f} s ({r.client_cpu / r.wall:.0%})"
        )
    steps = r.metrics.get("steps", {})
    if steps:
        print(
            "  service ms per notification (step histograms)  "
            + "  ".join(f"{k} {v['ms_per_notification']:.2f}" for k, v in steps.items())
        )
    counters = r.metrics.get("counters", {})
    errors = {k: v for k, v in counters.items() if "errors" in k or 'status="2' not in k and "notifications" in k}
    if errors:
        print("  service error counters  " + "  ".join(f"{k} +{v}" for k, v in errors.items()))
    s = r.stores
    print(
        f"  after: issues open {s['open']:,} closed {s['closed']:,}  service_states {s['service_states']}  "
        f"rejections {s['rejections']}  redis keys {s['redis_keys']:,}"
    )
    for line in r.errors:
        print(f"  ! {line}")


def print_summary(results: list[Result]) -> None:
    by = {r.name: r for r in results}
    print("\n" + "=" * 100)
    header = (
        f"{'scenario':<15}{'req':>7}{'alerts':>9}{'wall s':>9}{'alerts/s':>11}{'req/s':>9}"
        f"{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  status"
    )
    print(header + "\n" + "-" * len(header))
    for r in results:
        status = " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items()))
        print(
            f"{r.name:<15}{r.requests:>7,}{r.alerts:>9,}{r.wall:>9.2f}{r.alerts / r.wall if r.wall else 0:>11,.0f}"
            f"{r.requests / r.wall if r.wall else 0:>9,.0f}{r.pct(50):>9.2f}{r.pct(90):>9.2f}"
            f"{r.pct(99):>9.2f}{r.pct(100):>9.2f}  {status}"
        )
    print("(latencies in ms, measured by the client, including loopback HTTP)")

    def ratio(a: str, b: str, what: str) -> str | None:
        if a in by and b in by and by[a].wall and by[b].wall and by[b].alerts:
            x = (by[a].alerts / by[a].wall) / (by[b].alerts / by[b].wall)
            return f"  {what:<58} {x:6.2f}x"
        return None

    lines = [
        ratio("dup-1", "new-1", "duplicates vs new, 1 alert/notification (alerts/s)"),
        ratio("dup-100", "new-100", "duplicates vs new, 100 alerts/notification (alerts/s)"),
        ratio("new-100", "new-1", "100 alerts vs 1 alert per notification (alerts/s)"),
        ratio("resolve-10", "fire-10", "resolved vs firing, 10 alerts/notification (alerts/s)"),
        ratio("batch-5000", "new-100", "5,000-alert batch vs 100-alert notifications (alerts/s)"),
    ]
    lines = [x for x in lines if x]
    if lines:
        print("\nratios within this run (the comparable figures on a noisy machine):")
        print("\n".join(lines))


def machine_context(stores: Stores) -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    context = {
        "nproc": affinity or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        **stores.versions(),
    }
    return context


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests",
        type=int,
        help="requests of the 1-alert scenarios (100-alert ones: a tenth, "
        "10-alert fire/resolve: a quarter); default 5000, --quick 1000",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument(
        "--time-limit", type=float, help="seconds per scenario after which no new request starts (default 8, --quick 2)"
    )
    parser.add_argument("--services", type=int, default=50, help="distinct labels.service values (default 50)")
    parser.add_argument("--quick", action="store_true", help="a run of about 15 seconds")
    parser.add_argument("--no-batch", action="store_true", help="skip the 5,000-alert notifications")
    parser.add_argument("--keep", action="store_true", help="keep the service's log file and print its path")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON document")
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 1000 if args.quick else 5000
    if args.time_limit is None:
        args.time_limit = 2.0 if args.quick else 8.0
    if args.requests < 1 or args.concurrency < 1 or args.services < 1 or args.time_limit <= 0:
        parser.error("--requests, --concurrency, --services and --time-limit must be positive")
    return args


async def main_async(args: argparse.Namespace) -> int:
    run_start = time.perf_counter()
    ensure_database()
    service = Service(keep_log=args.keep)
    stores: Stores | None = None
    results: list[Result] = []
    context: dict[str, Any] = {}
    status = 0
    service.start()
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=max(args.concurrency, 4))
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            ready_in = await service.wait_ready(session)
            stores = Stores()  # the service has migrated the schema by now
            context = machine_context(stores)
            print(
                f"zeroops bench  nproc {context['nproc']}  Python {context['python']}  "
                f"PostgreSQL {context['postgresql']}  Redis {context['redis']}  "
                f"loadavg {' '.join(map(str, context['loadavg_start']))}"
            )
            print(
                f"service pid {service.proc.pid} on {service.base}, ready in {ready_in:.2f} s; "
                f"database {DB_NAME}, Redis db {REDIS_DB}; concurrency {args.concurrency}, "
                f"requests {args.requests}, time limit {args.time_limit:g} s per scenario"
            )
            print(
                "NOTE: this machine is shared and noisy (client, service, PostgreSQL and Redis on the same "
                f"{context['nproc']} CPUs):\n      compare ratios within one run, not absolute figures "
                "between runs."
            )
            bench = Bench(args, service, stores, session)
            results = bench.results
            await bench.run()
    except Exception as exc:
        status = 1
        print(f"\nbench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("service log tail:\n" + service.tail(), file=sys.stderr)
    finally:
        service.stop()
        if stores:
            stores.close()

    if results:
        print_summary(results)
    logs = service.log_summary()
    print(
        f"\nservice stop: SIGTERM -> exit {service.exit_code}"
        + (f" in {service.shutdown_seconds:.2f} s" if service.shutdown_seconds is not None else "")
    )
    print(
        f"service log: {logs['lines']} lines at level >= warning"
        + (": " + ", ".join(f"{k} x{v}" for k, v in logs["events"].items()) if logs["events"] else "")
    )
    for line in logs["samples"]:
        print(f"  ! {line}")
    if args.keep:
        print(f"service log kept: {service.log_path}")
    service.cleanup()
    context["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    total = time.perf_counter() - run_start
    print(f"total run {total:.1f} s; loadavg at end {' '.join(map(str, context['loadavg_end']))}")
    if args.json:
        print(
            json.dumps(
                {
                    "machine": context,
                    "options": {k: v for k, v in vars(args).items() if k != "json"},
                    "results": [r.as_dict() for r in results],
                    "service": {
                        "exit_code": service.exit_code,
                        "shutdown_s": service.shutdown_seconds,
                        "log": logs,
                        "log_path": str(service.log_path) if args.keep else None,
                    },
                    "total_s": round(total, 2),
                },
                indent=2,
            )
        )
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
