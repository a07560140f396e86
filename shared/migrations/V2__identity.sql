-- Identity and platform: tenant profile and plan, locations, users, roles and grants, sessions
-- with rotating refresh tokens, login throttling, and the audit log.

CREATE SCHEMA IF NOT EXISTS auth;

ALTER TABLE platform.tenants
    ADD COLUMN industry   text NOT NULL DEFAULT 'other'
        CHECK (industry IN ('restaurant', 'retail', 'salon', 'hospitality', 'events', 'other')),
    ADD COLUMN currency   text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN time_zone  text NOT NULL DEFAULT 'UTC',
    ADD COLUMN plan       text NOT NULL DEFAULT 'free'
        CHECK (plan IN ('free', 'starter', 'pro', 'enterprise')),
    ADD COLUMN settings   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN branding   jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN version    integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- The public directory of slugs: login names a tenant by slug before any tenant context
-- exists. It holds nothing but the slug and the id (both public to anyone who can log in), so
-- it is deliberately outside RLS; everything else about a tenant stays in platform.tenants.
CREATE TABLE platform.tenant_directory (
    slug      text PRIMARY KEY,
    tenant_id uuid NOT NULL UNIQUE REFERENCES platform.tenants (id) ON DELETE CASCADE
);

CREATE TABLE platform.locations (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time_zone      text NOT NULL,
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    address        jsonb NOT NULL DEFAULT '{}',
    business_hours jsonb NOT NULL DEFAULT '{}',
    tax_settings   jsonb NOT NULL DEFAULT '{}',
    active         boolean NOT NULL DEFAULT true,
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX locations_tenant ON platform.locations (tenant_id, id);
SELECT platform.enable_tenant_rls('platform.locations');

CREATE TABLE auth.users (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES platform.tenants (id),
    email             text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash     text,
    status            text NOT NULL DEFAULT 'active'
        CHECK (status IN ('invited', 'active', 'deactivated')),
    email_verified_at timestamptz,
    failed_logins     integer NOT NULL DEFAULT 0,
    locked_until      timestamptz,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_unique UNIQUE (tenant_id, email)
);
SELECT platform.enable_tenant_rls('auth.users');

-- Permissions are `resource:action` strings; `*` and `resource:*` are wildcards.
CREATE TABLE auth.roles (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES platform.tenants (id),
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    description text NOT NULL DEFAULT '',
    permissions text[] NOT NULL,
    builtin     boolean NOT NULL DEFAULT false,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_name_unique UNIQUE (tenant_id, name)
);
SELECT platform.enable_tenant_rls('auth.roles');

-- A role granted to a user, everywhere (location_ids NULL) or at some locations only.
CREATE TABLE auth.role_grants (
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    user_id      uuid NOT NULL REFERENCES auth.users (id),
    role_id      uuid NOT NULL REFERENCES auth.roles (id),
    location_ids uuid[],
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX role_grants_role ON auth.role_grants (role_id);
SELECT platform.enable_tenant_rls('auth.role_grants');

-- A signed-in device. Refresh tokens rotate within a session; the session is the "family"
-- that reuse detection revokes as a whole.
CREATE TABLE auth.sessions (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    user_id        uuid NOT NULL REFERENCES auth.users (id),
    method         text NOT NULL CHECK (method IN ('password', 'mfa', 'pin', 'signup', 'invite', 'reset')),
    device         text,
    ip             inet,
    user_agent     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX sessions_user ON auth.sessions (user_id) WHERE revoked_at IS NULL;
SELECT platform.enable_tenant_rls('auth.sessions');

-- Opaque refresh tokens, stored as SHA-256 hashes only.
CREATE TABLE auth.refresh_tokens (
    token_hash   bytea PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    session_id   uuid NOT NULL REFERENCES auth.sessions (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    -- Set when exchanged; presenting it again after the grace interval is reuse.
    rotated_at   timestamptz
);
CREATE INDEX refresh_tokens_session ON auth.refresh_tokens (session_id);
SELECT platform.enable_tenant_rls('auth.refresh_tokens');

-- Failed logins per (tenant, IP), for the per-IP limit that complements per-account lockout.
CREATE TABLE auth.login_failures (
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    ip           inet NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_recent ON auth.login_failures (tenant_id, ip, failed_at);
SELECT platform.enable_tenant_rls('auth.login_failures');

CREATE TABLE audit.events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'anonymous')),
    actor_id    uuid,
    action      text NOT NULL,
    target_type text,
    target_id   text,
    ip          inet,
    user_agent  text,
    request_id  text,
    before      jsonb,
    after       jsonb,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_tenant_time ON audit.events (tenant_id, id DESC);
SELECT platform.enable_tenant_rls('audit.events');
