"""Health, readiness, metrics and logs of the running HTTP stack (SPEC §2, §6)."""

import asyncio
import json

from tests.support.payloads import seed

WEBHOOK = "/v1/integrations/alertmanager/webhook"


async def test_healthz_answers_while_the_process_serves(client):
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["ok"] is True


async def test_readyz_is_200_when_postgres_and_redis_answer(client):
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"ok": True, "status": "ready", "postgres": "ok", "redis": "ok"}


async def test_readyz_is_degraded_but_200_when_redis_is_down(service):
    client = await service(redis={"port": 1})
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200
    assert (body["status"], body["postgres"]) == ("degraded", "ok") and body["redis"].startswith("down")


async def test_readyz_is_503_while_postgres_does_not_answer_but_healthz_stays_200(service):
    client = await service(wait_ready=False, database={"port": 1})
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["postgres"].startswith("down: database not ready")
    assert (await client.get("/healthz")).status == 200


async def test_metrics_expose_step_and_route_histograms_and_outcome_counters(client):
    await client.post(WEBHOOK, json=seed())
    await client.post(WEBHOOK, json=seed())
    await client.post(WEBHOOK, data=b"nope")
    response = await client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    for step in ("parse", "validate", "dedup", "persist", "cache"):
        assert f'zeroops_webhook_step_duration_seconds_count{{step="{step}"}}' in text
    assert (
        'zeroops_http_request_duration_seconds_count{method="POST",'
        'route="/v1/integrations/alertmanager/webhook",status="200"} 2.0'
    ) in text
    assert 'zeroops_alerts_total{outcome="created"} 1.0' in text
    assert 'zeroops_alerts_total{outcome="duplicate"} 1.0' in text
    assert 'zeroops_notifications_total{status="400"} 1.0' in text
    assert "3b1b7f4e8f0e" not in text  # no fingerprint (or id) as a label value


async def test_every_log_line_is_json_with_the_request_id_and_alert_fields(client, capsys):
    response = await client.post(WEBHOOK, json=seed(), headers={"X-Request-Id": "req-123"})
    assert response.headers["X-Request-Id"] == "req-123"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    created = next(line for line in lines if line["event"] == "issue.created")
    assert created["request_id"] == "req-123"
    assert {k: created[k] for k in ("alertname", "service", "severity", "fingerprint")} == {
        "alertname": "HighRequestLatency",
        "service": "serviceA",
        "severity": "P1",
        "fingerprint": "3b1b7f4e8f0e",
    }
    summary = next(line for line in lines if line["event"] == "http.request")
    assert (summary["request_id"], summary["status"]) == ("req-123", 200)


async def test_an_unknown_route_is_a_json_404(client):
    response = await client.get("/nope")
    assert response.status == 404
    assert (await response.json())["ok"] is False


async def test_readyz_is_503_once_shutdown_has_begun(client):
    await client.server.app.on_shutdown.send(client.server.app)
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["status"] == "shutting down"


async def test_a_rejected_alert_is_logged_with_its_identifying_labels(client, capsys):
    raw = {"labels": {"alertname": "Broken", "service": "api", "severity": 3}, "startsAt": "", "fingerprint": "ab12"}
    await client.post(WEBHOOK, json={"alerts": [raw, seed()["alerts"][0]]})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    rejected = next(line for line in lines if line["event"] == "alert.rejected")
    assert (rejected["index"], rejected["reason"]) == (0, "alerts[0].labels.severity must be a string")
    assert (rejected["alertname"], rejected["service"], rejected["fingerprint"]) == ("Broken", "api", "ab12")
    assert "severity" not in rejected


async def test_readyz_stays_200_while_every_database_connection_is_busy(service, pg):
    client = await service(database={"pool_min": 1, "pool_max": 1}, webhook={"request_timeout": 5})
    pg.conn.autocommit = False
    try:
        with pg.conn.cursor() as cur:
            cur.execute("LOCK TABLE alert_issues IN EXCLUSIVE MODE")  # the one connection waits inside a request
        busy = asyncio.ensure_future(client.post(WEBHOOK, json=seed()))
        await asyncio.sleep(0.3)
        response = await client.get("/readyz")
        assert response.status == 200
    finally:
        pg.conn.rollback()
        pg.conn.autocommit = True
    assert (await busy).status == 200
