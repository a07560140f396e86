-- Foundation: module schemas, the one tenant RLS policy shape, events backbone, idempotency.

CREATE SCHEMA IF NOT EXISTS platform;
CREATE SCHEMA IF NOT EXISTS events;
CREATE SCHEMA IF NOT EXISTS audit;


-- The tenant of the current transaction, or NULL when none is set. set_config(..., true) is
-- transaction-local; after the transaction the setting reads as '' (not NULL), hence NULLIF.
-- A NULL tenant matches no row: a query that forgets the tenant sees nothing.
CREATE FUNCTION platform.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- The one policy shape of every tenant table: RLS enabled and forced (so even the owner is
-- filtered), one policy for all commands on `column_name = current tenant`.
CREATE FUNCTION platform.enable_tenant_rls(target regclass, column_name name DEFAULT 'tenant_id')
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (%I = platform.current_tenant_id()) '
        'WITH CHECK (%I = platform.current_tenant_id())',
        target, column_name, column_name);
END;
$$;

-- Tenants: the root of isolation. Later migrations add profile, plan and settings columns.
CREATE TABLE platform.tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
SELECT platform.enable_tenant_rls('platform.tenants', 'id');

-- Idempotency-Key records (DESIGN.md, HTTP conventions). Scoped per tenant and principal; the
-- tenant of unauthenticated requests is the nil UUID.
CREATE TABLE platform.idempotency_keys (
    tenant_id        uuid NOT NULL,
    scope            text NOT NULL,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('running', 'completed')),
    locked_until     timestamptz,
    response_status  smallint,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '72 hours',
    PRIMARY KEY (tenant_id, scope, key)
);
CREATE INDEX idempotency_keys_expiry ON platform.idempotency_keys (expires_at);
SELECT platform.enable_tenant_rls('platform.idempotency_keys');

-- Transactional outbox: written in the transaction of the change, published after commit, and
-- by relay-outbox for whatever was left. Infrastructure, read only by the relay (no RLS: the
-- relay works across tenants); no API exposes it.
CREATE TABLE events.outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    tenant_id    uuid,
    event_type   text NOT NULL,
    envelope     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unpublished ON events.outbox (seq) WHERE published_at IS NULL;

-- Consumer dedupe: one row per (subscription, event) processed, inserted in the handler's own
-- transaction so the effect and the mark commit together.
CREATE TABLE events.processed (
    subscription text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription, event_id)
);

-- Messages Pub/Sub gave up on, for an operator to inspect and replay.
CREATE TABLE events.dead_letters (
    id                  uuid PRIMARY KEY,
    message_id          text NOT NULL UNIQUE,
    source_subscription text,
    delivery_attempts   integer,
    event_id            uuid,
    event_type          text,
    tenant_id           uuid,
    data                bytea NOT NULL,
    attributes          jsonb NOT NULL DEFAULT '{}',
    publish_time        timestamptz,
    received_at         timestamptz NOT NULL DEFAULT now(),
    replayed_at         timestamptz,
    replay_count        integer NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_pending ON events.dead_letters (received_at) WHERE replayed_at IS NULL;
