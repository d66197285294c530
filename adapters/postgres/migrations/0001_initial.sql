-- Alert issues, service health and dead letters (SPEC §3, §4).

CREATE TABLE alert_issues (
    id              text PRIMARY KEY,
    state           text NOT NULL CHECK (state IN ('Open', 'Closed')),
    level           text NOT NULL CHECK (level IN ('P0', 'P1', 'P2', 'Warning')),
    alert_state     text NOT NULL CHECK (alert_state IN ('Pending', 'InProcessing', 'Restored', 'AutoRestored')),
    title           varchar(255) NOT NULL,
    labels          jsonb NOT NULL,
    alert_since     timestamptz NOT NULL,
    resolved_at     timestamptz,
    fingerprint     text NOT NULL,
    service         text NOT NULL DEFAULT '',
    service_version text NOT NULL DEFAULT '',
    alertname       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The same start time of the same alert is the same event.
    CONSTRAINT alert_issues_fingerprint_alert_since_key UNIQUE (fingerprint, alert_since)
);

-- At most one open issue per alert: HA pairs send one alert with slightly different startsAt.
CREATE UNIQUE INDEX alert_issues_one_open_per_fingerprint ON alert_issues (fingerprint) WHERE state = 'Open';
CREATE INDEX alert_issues_state_level_since ON alert_issues (state, level, alert_since);
CREATE INDEX alert_issues_alert_state_since ON alert_issues (alert_state, alert_since);
CREATE INDEX alert_issues_open_by_service ON alert_issues (service, service_version) WHERE state = 'Open';
CREATE INDEX alert_issues_updated_at ON alert_issues (updated_at);

CREATE TABLE service_states (
    service        text NOT NULL,
    version        text NOT NULL DEFAULT '',
    report_at      timestamptz,
    resolved_at    timestamptz,
    health_state   text NOT NULL CHECK (health_state IN ('Normal', 'Warning', 'Processing', 'Error')),
    detail         text,
    correlation_id text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, version)
);
CREATE INDEX service_states_updated_at ON service_states (updated_at);

-- Dead letters: alerts that failed validation, kept with their raw JSON, once each
-- (a redelivered notification carries the same invalid alert again).
CREATE TABLE alert_rejections (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL,
    raw         text NOT NULL,
    raw_digest  text NOT NULL UNIQUE,
    alert_index integer NOT NULL,
    receiver    text NOT NULL DEFAULT '',
    group_key   text NOT NULL DEFAULT ''
);
CREATE INDEX alert_rejections_received_at ON alert_rejections (received_at);

-- Sessions of this database default to UTC, so that `alert_since = '...'::timestamp` reads as UTC.
-- Not fatal where the migrating role does not own the database.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET timezone TO %L', current_database(), 'UTC');
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'could not set the database time zone to UTC';
END
$$;
