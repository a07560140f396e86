-- Identity, second part: single-use tokens (password reset, email verification, invites, MFA
-- challenges), TOTP MFA with recovery codes, POS devices and staff PINs, API keys.

-- Single-use tokens, stored as SHA-256 hashes. The token text carries its tenant (like refresh
-- tokens) so the consumer can scope its transaction before looking it up.
CREATE TABLE auth.one_time_tokens (
    token_hash  bytea PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES platform.tenants (id),
    user_id     uuid NOT NULL REFERENCES auth.users (id),
    purpose     text NOT NULL
        CHECK (purpose IN ('password_reset', 'email_verification', 'invite', 'mfa_challenge')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX one_time_tokens_user ON auth.one_time_tokens (user_id, purpose);
SELECT platform.enable_tenant_rls('auth.one_time_tokens');

-- TOTP (RFC 6238). The secret must be readable to verify codes; it is only ever returned once,
-- at enrolment. `confirmed_at` NULL means enrolment started but not confirmed (MFA not active).
CREATE TABLE auth.mfa_totp (
    user_id      uuid PRIMARY KEY REFERENCES auth.users (id),
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    secret       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz,
    -- The last accepted time step: a code is accepted at most once (replay protection).
    last_step    bigint
);
SELECT platform.enable_tenant_rls('auth.mfa_totp');

CREATE TABLE auth.recovery_codes (
    tenant_id  uuid NOT NULL REFERENCES platform.tenants (id),
    user_id    uuid NOT NULL REFERENCES auth.users (id),
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
SELECT platform.enable_tenant_rls('auth.recovery_codes');

-- POS devices registered at a location; PIN login is valid only at the device's location.
CREATE TABLE auth.devices (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES platform.tenants (id),
    location_id uuid NOT NULL REFERENCES platform.locations (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX devices_location ON auth.devices (location_id);
SELECT platform.enable_tenant_rls('auth.devices');

-- The device id is what a till presents before any tenant is known: a public directory like
-- the slug directory (id and tenant only).
CREATE TABLE auth.device_directory (
    device_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES platform.tenants (id)
);

ALTER TABLE auth.users
    ADD COLUMN pin_hash         text,
    ADD COLUMN pin_failed       integer NOT NULL DEFAULT 0,
    ADD COLUMN pin_locked_until timestamptz;

-- API keys: `olk_<prefix>_<secret>`; only the secret's hash is stored.
CREATE TABLE auth.api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    prefix       text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    scopes       text[] NOT NULL,
    location_ids uuid[],
    expires_at   timestamptz,
    created_by   uuid REFERENCES auth.users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
SELECT platform.enable_tenant_rls('auth.api_keys');

-- The key prefix is presented before any tenant is known: prefix → tenant only.
CREATE TABLE auth.api_key_directory (
    prefix    text PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES platform.tenants (id)
);
