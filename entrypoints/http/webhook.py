"""POST /v1/integrations/alertmanager/webhook: HTTP in, IngestNotification, HTTP out (SPEC §2.2).

Alertmanager retries only 5xx and transport errors: every failure that a retry can mend
answers 503, and a 4xx is kept for input that no retry will ever make valid.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from adapters.alertmanager.payload import PayloadError, parse_json, to_notification
from adapters.observability.metrics import Metrics
from application.errors import StoreUnavailable
from application.ingest import IngestNotification, IngestResult
from domain.model import Alert, AlertIssue, Notification
from entrypoints.config import WebhookSettings
from entrypoints.http.auth import Authenticator
from entrypoints.http.responses import error

log = structlog.get_logger(__name__)

PATH = "/v1/integrations/alertmanager/webhook"


class _TooLarge(Exception):
    pass


class WebhookHandler:
    def __init__(
        self, ingest: IngestNotification, metrics: Metrics, settings: WebhookSettings, authenticator: Authenticator
    ) -> None:
        self._ingest = ingest
        self._metrics = metrics
        self._settings = settings
        self._auth = authenticator

    async def __call__(self, request: web.Request) -> web.Response:
        # Credentials first: an unauthenticated request is neither read nor written.
        if not self._auth.allows(request.headers.get("Authorization")):
            log.warning("webhook.unauthorized")
            return self._answer(error(401, "unauthorized", headers={"WWW-Authenticate": self._auth.challenge}))
        try:
            async with asyncio.timeout(self._settings.request_timeout):
                return self._answer(await self._process(request))
        except TimeoutError:
            log.error("webhook.timed_out", timeout=self._settings.request_timeout)
            return self._answer(self._unavailable("request timed out; retry later"))

    async def _process(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
        except _TooLarge:
            return error(413, "payload too large")
        try:
            with self._metrics.step("parse"):
                document = parse_json(body)
            with self._metrics.step("validate"):
                notification = to_notification(document, self._settings.max_alerts)
        except PayloadError as exc:
            log.warning("webhook.bad_request", error=str(exc))
            return error(400, str(exc))

        structlog.contextvars.bind_contextvars(
            receiver=notification.receiver,
            group_key=notification.group_key[:200],
            alerts=len(notification.alerts) + len(notification.rejections),
        )
        for rejection in notification.rejections:
            log.warning("alert.rejected", index=rejection.index, reason=rejection.reason, **_raw_fields(rejection.raw))
        self._metrics.alerts.labels("rejected").inc(len(notification.rejections))
        if not notification.alerts:
            # Every alert is invalid: the sender gets the error, and nothing is written.
            return error(400, notification.rejections[0].reason)

        try:
            result = await self._ingest(notification)
        except StoreUnavailable as exc:
            self._metrics.alerts.labels("failed").inc(len(notification.alerts))
            log.error("webhook.store_unavailable", error=str(exc))
            return self._unavailable(str(exc))
        except asyncio.CancelledError:
            self._metrics.alerts.labels("failed").inc(len(notification.alerts))
            raise
        self._report(notification, result)
        if result.cache_error:  # shown on the request's summary line; the 200 stands
            structlog.contextvars.bind_contextvars(cache_error=result.cache_error)
        return web.json_response(
            {
                "ok": True,
                "created": len(result.created),
                "resolved": len(result.resolved),
                "duplicates": len(result.duplicates),
                "rejected": len(result.rejected),
            }
        )

    async def _read(self, request: web.Request) -> bytes:
        limit = self._settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _TooLarge
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _unavailable(self, message: str) -> web.Response:
        return error(503, message, headers={"Retry-After": str(self._settings.retry_after_seconds)})

    def _answer(self, response: web.Response) -> web.Response:
        self._metrics.notifications.labels(str(response.status)).inc()
        return response

    def _report(self, notification: Notification, result: IngestResult) -> None:
        counts = {"created": result.created, "resolved": result.resolved}
        for outcome, issues in counts.items():
            self._metrics.alerts.labels(outcome).inc(len(issues))
            for issue in issues:
                log.info(f"issue.{outcome}", issue_id=issue.id, **_issue_fields(issue))
        self._metrics.alerts.labels("duplicate").inc(len(result.duplicates))
        for alert in result.duplicates:
            log.debug("alert.duplicate", status=alert.status.value, **_alert_fields(alert))


def _alert_fields(alert: Alert) -> dict[str, str]:
    return {
        "alertname": alert.alertname,
        "service": alert.service,
        "severity": alert.severity,
        "fingerprint": alert.fingerprint,
    }


def _raw_fields(raw: object) -> dict[str, str]:
    # What can be told of an invalid alert: its identifying labels, where they are strings.
    labels = raw.get("labels") if isinstance(raw, dict) else None
    fields = {k: labels.get(k) for k in ("alertname", "service", "severity")} if isinstance(labels, dict) else {}
    if isinstance(raw, dict):
        fields["fingerprint"] = raw.get("fingerprint")
    return {k: v[:200] for k, v in fields.items() if isinstance(v, str) and v}


def _issue_fields(issue: AlertIssue) -> dict[str, str]:
    severity = next((label.value for label in issue.labels if label.key == "severity"), "")
    return {
        "alertname": issue.alertname,
        "service": issue.service,
        "severity": severity,
        "level": issue.level.value,
        "fingerprint": issue.fingerprint,
    }
