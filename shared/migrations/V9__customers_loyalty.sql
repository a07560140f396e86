-- Customers and loyalty (issue 5): the customer directory with statistics kept by the
-- `on-order-paid-update-customer-stats` handler, and a per-tenant loyalty program with a points
-- ledger whose per-customer balance is kept in the transaction of every ledger insert.
--
-- References carry the tenant (composite foreign keys) because foreign-key checks bypass RLS.

CREATE SCHEMA IF NOT EXISTS customer;

CREATE TABLE customer.customers (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES platform.tenants (id),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Normalised by the application: trimmed and lower-cased.
    email                text CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    -- E.164, normalised by the application (the `phonenumber` crate).
    phone                text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    addresses            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(addresses) = 'array'),
    birthday             date,
    notes                text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
    allergens            text[] NOT NULL DEFAULT '{}',
    dietary_preferences  text[] NOT NULL DEFAULT '{}',
    marketing_consent    boolean NOT NULL DEFAULT false,
    -- When consent was last given or withdrawn.
    marketing_consent_at timestamptz,
    -- Statistics of paid orders (customer.order_stats holds one row per counted order); the
    -- average order value is computed when read.
    order_count          bigint NOT NULL DEFAULT 0 CHECK (order_count >= 0),
    lifetime_spend_minor bigint NOT NULL DEFAULT 0,
    first_order_at       timestamptz,
    last_order_at        timestamptz,
    -- A duplicate merged into another customer: kept for history, never answered as live.
    -- Merges are flattened (whatever pointed at a merged duplicate points at its survivor).
    merged_into          uuid,
    merged_at            timestamptz,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK (merged_into IS NULL OR merged_into <> id),
    FOREIGN KEY (tenant_id, merged_into) REFERENCES customer.customers (tenant_id, id)
);
SELECT platform.enable_tenant_rls('customer.customers');
-- Email and phone identify one live customer per tenant (a merged duplicate frees them).
CREATE UNIQUE INDEX customers_email_live ON customer.customers (tenant_id, email)
    WHERE merged_into IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX customers_phone_live ON customer.customers (tenant_id, phone)
    WHERE merged_into IS NULL AND phone IS NOT NULL;
-- Search by name, email or phone (trigram similarity and substring). As with the catalog's
-- product search (V4), the policy of FORCEd row-level security is applied before operators
-- that are not LEAKPROOF (pg_trgm's are not), so the planner may prefer the tenant's rows and
-- filter them over these indexes: accepted, a tenant's customers are a bounded set.
CREATE INDEX customers_name_trgm ON customer.customers USING gin (name public.gin_trgm_ops);
CREATE INDEX customers_email_trgm ON customer.customers USING gin (email public.gin_trgm_ops);
CREATE INDEX customers_phone_trgm ON customer.customers USING gin (phone public.gin_trgm_ops);

-- Orders name a customer of their own tenant.
ALTER TABLE sales.orders
    ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (tenant_id, customer_id)
        REFERENCES customer.customers (tenant_id, id);

-- The per-order guard of the statistics: an order is counted once, whatever the redeliveries
-- or subscriptions. Merges move the rows with the orders, and the customer's figures are then
-- recomputed from them.
CREATE TABLE customer.order_stats (
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    order_id     uuid NOT NULL,
    customer_id  uuid NOT NULL,
    amount_minor bigint NOT NULL,
    -- Refunded so far (the order's cumulative figure, capped at amount_minor): lifetime spend
    -- counts amount_minor - refunded_minor.
    refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND amount_minor),
    ordered_at   timestamptz NOT NULL,
    counted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES sales.orders (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customer.customers (tenant_id, id)
);
SELECT platform.enable_tenant_rls('customer.order_stats');
CREATE INDEX order_stats_customer ON customer.order_stats (tenant_id, customer_id);

-- The loyalty program: one per tenant. Rates are integers in thousandths (1.5 points per
-- currency unit = 1500), so no float ever touches a balance.
CREATE TABLE customer.loyalty_programs (
    tenant_id              uuid PRIMARY KEY REFERENCES platform.tenants (id),
    points_per_unit_milli  bigint NOT NULL CHECK (points_per_unit_milli > 0),
    rounding               text NOT NULL CHECK (rounding IN ('down', 'nearest', 'up')),
    -- [{name, threshold, multiplier_milli}], thresholds ascending (lifetime points).
    tiers                  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tiers) = 'array'),
    -- [{id, name, points, discount: {type: fixed, amount_minor} | {type: percent, percent}}].
    rewards                jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rewards) = 'array'),
    points_expire_days     integer CHECK (points_expire_days > 0),
    active                 boolean NOT NULL DEFAULT true,
    version                integer NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
SELECT platform.enable_tenant_rls('customer.loyalty_programs');

-- A customer's points: kept in the transaction of every ledger insert (olympus::loyalty), so
-- `balance` always equals the sum of the customer's ledger. It may go below zero when a refund
-- claws back points that were already redeemed.
CREATE TABLE customer.loyalty_accounts (
    tenant_id       uuid NOT NULL REFERENCES platform.tenants (id),
    customer_id     uuid NOT NULL,
    balance         bigint NOT NULL DEFAULT 0,
    -- Points earned, net of refund claw-backs: what tiers are reached by.
    lifetime_points bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customer.customers (tenant_id, id)
);
SELECT platform.enable_tenant_rls('customer.loyalty_accounts');

-- The points ledger, append-only.
CREATE TABLE customer.loyalty_ledger (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES platform.tenants (id),
    customer_id uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('earn', 'redeem', 'adjust', 'expire')),
    points      bigint NOT NULL CHECK (points <> 0),
    order_id    uuid,
    -- A refund's claw-back (kind `adjust`, negative).
    refund_id   uuid,
    -- A redemption's reward.
    reward_id   text,
    reason      text CHECK (length(reason) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Earned points lapse then (the program's expiry when they were earned).
    expires_at  timestamptz,
    UNIQUE (tenant_id, id),
    CHECK (kind <> 'earn' OR (points > 0 AND order_id IS NOT NULL)),
    CHECK (kind NOT IN ('redeem', 'expire') OR points < 0),
    CHECK (refund_id IS NULL OR (kind = 'adjust' AND points < 0 AND order_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customer.customers (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES sales.orders (tenant_id, id)
);
SELECT platform.enable_tenant_rls('customer.loyalty_ledger');
-- Structural idempotency: an order earns once, a refund claws back once.
CREATE UNIQUE INDEX loyalty_ledger_earn_once ON customer.loyalty_ledger (tenant_id, order_id)
    WHERE kind = 'earn';
CREATE UNIQUE INDEX loyalty_ledger_clawback_once ON customer.loyalty_ledger (tenant_id, refund_id)
    WHERE refund_id IS NOT NULL;
CREATE INDEX loyalty_ledger_history ON customer.loyalty_ledger (tenant_id, customer_id, id DESC);
CREATE INDEX loyalty_ledger_expiring ON customer.loyalty_ledger (tenant_id, expires_at)
    WHERE kind = 'earn' AND expires_at IS NOT NULL;
