-- Catalog (categories, products with options and variants, modifier groups, tax rates,
-- per-location overrides) and inventory (stock projection, append-only movement ledger,
-- reservations, transfers).
--
-- Cross-table references carry the tenant (composite foreign keys on (tenant_id, id)): a
-- foreign key check bypasses row-level security, so a plain `REFERENCES x (id)` would let one
-- tenant's row point at another tenant's. With the tenant in the key that is impossible.

CREATE SCHEMA IF NOT EXISTS catalog;
CREATE SCHEMA IF NOT EXISTS inventory;
-- Trigram similarity for product search (trusted extension: no superuser needed).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

ALTER TABLE platform.locations ADD CONSTRAINT locations_tenant_id_id_key UNIQUE (tenant_id, id);

-- The change feed: every catalog row carries `change_seq`, stamped on insert and update from a
-- per-tenant counter. Taking the next number locks the tenant's counter row until commit, so
-- catalog writes of one tenant commit in `change_seq` order and a reader paging by
-- `change_seq > cursor` can never miss a row that commits later with a smaller number.
CREATE TABLE catalog.change_counters (
    tenant_id uuid PRIMARY KEY REFERENCES platform.tenants (id),
    seq       bigint NOT NULL
);
SELECT platform.enable_tenant_rls('catalog.change_counters');

CREATE FUNCTION catalog.stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog.change_counters AS c (tenant_id, seq) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET seq = c.seq + 1
    RETURNING c.seq INTO NEW.change_seq;
    RETURN NEW;
END;
$$;

CREATE FUNCTION catalog.track_changes(target regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON %s '
        'FOR EACH ROW EXECUTE FUNCTION catalog.stamp_change()', target);
END;
$$;

CREATE TABLE catalog.categories (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    parent_id    uuid,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    position     integer NOT NULL DEFAULT 0,
    external_key text CHECK (length(external_key) BETWEEN 1 AND 200),
    version      integer NOT NULL DEFAULT 1,
    change_seq   bigint NOT NULL DEFAULT 0,
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, external_key),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES catalog.categories (tenant_id, id),
    CHECK (parent_id <> id)
);
CREATE INDEX categories_changes ON catalog.categories (tenant_id, change_seq);
CREATE INDEX categories_parent ON catalog.categories (tenant_id, parent_id, position);
SELECT platform.enable_tenant_rls('catalog.categories');
SELECT catalog.track_changes('catalog.categories');

-- Tax rates: a percentage in basis points (825 = 8.25 %), inclusive (in the price) or exclusive
-- (added on top), for one location or every location (`location_id` NULL). A product's
-- `tax_category` selects the rates of the same category.
CREATE TABLE catalog.tax_rates (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tax_category text NOT NULL CHECK (tax_category ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    rate_bps     integer NOT NULL CHECK (rate_bps BETWEEN 0 AND 100000),
    inclusive    boolean NOT NULL DEFAULT false,
    location_id  uuid,
    version      integer NOT NULL DEFAULT 1,
    change_seq   bigint NOT NULL DEFAULT 0,
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX tax_rates_category ON catalog.tax_rates (tenant_id, tax_category);
CREATE INDEX tax_rates_changes ON catalog.tax_rates (tenant_id, change_seq);
SELECT platform.enable_tenant_rls('catalog.tax_rates');
SELECT catalog.track_changes('catalog.tax_rates');

-- Products. `options` is the product's option list ([{"name": "Size", "values": ["S", "M"]}]);
-- every variant names one value of each option in `option_values`.
CREATE TABLE catalog.products (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES platform.tenants (id),
    category_id   uuid,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    tax_category  text NOT NULL DEFAULT 'standard'
        CHECK (tax_category ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    options       jsonb NOT NULL DEFAULT '[]',
    dietary_tags  text[] NOT NULL DEFAULT '{}',
    allergens     text[] NOT NULL DEFAULT '{}',
    image_urls    text[] NOT NULL DEFAULT '{}',
    external_key  text CHECK (length(external_key) BETWEEN 1 AND 200),
    version       integer NOT NULL DEFAULT 1,
    change_seq    bigint NOT NULL DEFAULT 0,
    archived_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, external_key),
    FOREIGN KEY (tenant_id, category_id) REFERENCES catalog.categories (tenant_id, id)
);
CREATE INDEX products_name_trgm ON catalog.products USING gin (name public.gin_trgm_ops);
CREATE INDEX products_category ON catalog.products (tenant_id, category_id);
CREATE INDEX products_tags ON catalog.products USING gin (dietary_tags);
CREATE INDEX products_changes ON catalog.products (tenant_id, change_seq);
SELECT platform.enable_tenant_rls('catalog.products');
SELECT catalog.track_changes('catalog.products');

CREATE TABLE catalog.variants (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES platform.tenants (id),
    product_id      uuid NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    option_values   jsonb NOT NULL DEFAULT '{}',
    sku             text CHECK (length(sku) BETWEEN 1 AND 64),
    barcode         text CHECK (barcode ~ '^[0-9A-Za-z-]{4,64}$'),
    price_minor     bigint NOT NULL CHECK (price_minor >= 0),
    cost_minor      bigint CHECK (cost_minor >= 0),
    track_inventory boolean NOT NULL DEFAULT true,
    position        integer NOT NULL DEFAULT 0,
    external_key    text CHECK (length(external_key) BETWEEN 1 AND 200),
    version         integer NOT NULL DEFAULT 1,
    change_seq      bigint NOT NULL DEFAULT 0,
    archived_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, external_key),
    FOREIGN KEY (tenant_id, product_id) REFERENCES catalog.products (tenant_id, id)
);
CREATE INDEX variants_product ON catalog.variants (tenant_id, product_id, position);
CREATE UNIQUE INDEX variants_sku ON catalog.variants (tenant_id, sku)
    WHERE sku IS NOT NULL AND archived_at IS NULL;
CREATE UNIQUE INDEX variants_barcode ON catalog.variants (tenant_id, barcode)
    WHERE barcode IS NOT NULL AND archived_at IS NULL;
CREATE INDEX variants_changes ON catalog.variants (tenant_id, change_seq);
SELECT platform.enable_tenant_rls('catalog.variants');
SELECT catalog.track_changes('catalog.variants');

-- Modifier groups (Square-style): a customer picks between `min_selections` and
-- `max_selections` (NULL: no upper bound) modifiers; with `allow_repeats` one modifier may be
-- picked more than once. Modifiers belong to one group and change with it (PATCH of the group),
-- so the group's `change_seq` covers them.
CREATE TABLE catalog.modifier_groups (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    min_selections integer NOT NULL DEFAULT 0 CHECK (min_selections >= 0),
    max_selections integer CHECK (max_selections >= 1 AND max_selections >= min_selections),
    allow_repeats  boolean NOT NULL DEFAULT false,
    external_key   text CHECK (length(external_key) BETWEEN 1 AND 200),
    version        integer NOT NULL DEFAULT 1,
    change_seq     bigint NOT NULL DEFAULT 0,
    archived_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, external_key)
);
CREATE INDEX modifier_groups_changes ON catalog.modifier_groups (tenant_id, change_seq);
SELECT platform.enable_tenant_rls('catalog.modifier_groups');
SELECT catalog.track_changes('catalog.modifier_groups');

CREATE TABLE catalog.modifiers (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES platform.tenants (id),
    group_id          uuid NOT NULL,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_delta_minor bigint NOT NULL DEFAULT 0,
    position          integer NOT NULL DEFAULT 0,
    archived_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES catalog.modifier_groups (tenant_id, id)
);
CREATE INDEX modifiers_group ON catalog.modifiers (tenant_id, group_id, position);
SELECT platform.enable_tenant_rls('catalog.modifiers');

-- Which modifier groups a product offers, in order; changed with the product (PATCH of the
-- product), whose `change_seq` covers it.
CREATE TABLE catalog.product_modifier_groups (
    tenant_id  uuid NOT NULL REFERENCES platform.tenants (id),
    product_id uuid NOT NULL,
    group_id   uuid NOT NULL,
    position   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, group_id),
    FOREIGN KEY (tenant_id, product_id) REFERENCES catalog.products (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES catalog.modifier_groups (tenant_id, id)
);
CREATE INDEX product_modifier_groups_group ON catalog.product_modifier_groups (tenant_id, group_id);
SELECT platform.enable_tenant_rls('catalog.product_modifier_groups');

-- Per-location overrides of a variant: price, sold out (until a time, typically the end of the
-- business day), hidden.
CREATE TABLE catalog.variant_locations (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    variant_id     uuid NOT NULL,
    location_id    uuid NOT NULL,
    price_minor    bigint CHECK (price_minor >= 0),
    sold_out_until timestamptz,
    hidden         boolean NOT NULL DEFAULT false,
    version        integer NOT NULL DEFAULT 1,
    change_seq     bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, variant_id, location_id),
    FOREIGN KEY (tenant_id, variant_id) REFERENCES catalog.variants (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX variant_locations_changes ON catalog.variant_locations (tenant_id, change_seq);
CREATE INDEX variant_locations_location ON catalog.variant_locations (tenant_id, location_id);
SELECT platform.enable_tenant_rls('catalog.variant_locations');
SELECT catalog.track_changes('catalog.variant_locations');

-- Menus / day parts: a set of categories offered at some locations (none listed: every
-- location) during weekly hours in the location's time zone (`hours` NULL: all day). Arrays of
-- ids cannot carry foreign keys; the functions check them under RLS.
CREATE TABLE catalog.menus (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    category_ids uuid[] NOT NULL DEFAULT '{}',
    location_ids uuid[] NOT NULL DEFAULT '{}',
    hours        jsonb,
    position     integer NOT NULL DEFAULT 0,
    version      integer NOT NULL DEFAULT 1,
    change_seq   bigint NOT NULL DEFAULT 0,
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX menus_changes ON catalog.menus (tenant_id, change_seq);
SELECT platform.enable_tenant_rls('catalog.menus');
SELECT catalog.track_changes('catalog.menus');

-- Inventory: the projection per (variant, location). `on_hand` always equals the sum of the
-- ledger's `delta` for the pair; `reserved` is not stored but summed from unexpired holds when
-- read, so an expired hold stops counting the moment it expires.
CREATE TABLE inventory.stock (
    tenant_id        uuid NOT NULL REFERENCES platform.tenants (id),
    variant_id       uuid NOT NULL,
    location_id      uuid NOT NULL,
    on_hand          bigint NOT NULL DEFAULT 0,
    oversell         text NOT NULL DEFAULT 'block' CHECK (oversell IN ('block', 'allow_negative')),
    reorder_point    bigint CHECK (reorder_point >= 0),
    reorder_quantity bigint CHECK (reorder_quantity > 0),
    -- Whether on_hand is at or below the reorder point: flipped once per crossing, so
    -- `inventory.stock.low` fires once per crossing.
    below_reorder    boolean NOT NULL DEFAULT false,
    -- The client time of the latest physical count: movements before it are already in it.
    last_count_at    timestamptz,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, variant_id, location_id),
    FOREIGN KEY (tenant_id, variant_id) REFERENCES catalog.variants (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE INDEX stock_location ON inventory.stock (tenant_id, location_id);
SELECT platform.enable_tenant_rls('inventory.stock');

-- The append-only ledger. `quantity` is the movement as reported (signed; for a count, the
-- counted level); `delta` is its effect on on_hand (0 for a movement dated before the latest
-- count, which already saw it), `on_hand_after` the level right after it.
CREATE TABLE inventory.movements (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    variant_id     uuid NOT NULL,
    location_id    uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('receive', 'sale', 'return', 'adjust', 'waste',
                                                 'transfer_out', 'transfer_in', 'count')),
    quantity       bigint NOT NULL,
    delta          bigint NOT NULL,
    on_hand_after  bigint NOT NULL,
    reason         text CHECK (length(reason) <= 500),
    actor_user_id  uuid,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    reference_type text CHECK (reference_type ~ '^[a-z_]{1,40}$'),
    reference_id   text CHECK (length(reference_id) BETWEEN 1 AND 200),
    FOREIGN KEY (tenant_id, variant_id, location_id)
        REFERENCES inventory.stock (tenant_id, variant_id, location_id)
);
CREATE INDEX movements_pair ON inventory.movements (tenant_id, variant_id, location_id, occurred_at);
CREATE INDEX movements_location ON inventory.movements (tenant_id, location_id, id);
CREATE INDEX movements_reference ON inventory.movements (tenant_id, reference_type, reference_id);
SELECT platform.enable_tenant_rls('inventory.movements');

CREATE FUNCTION inventory.forbid_ledger_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'inventory.movements is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON inventory.movements
    FOR EACH ROW EXECUTE FUNCTION inventory.forbid_ledger_changes();

-- Holds for online carts: one row per (reservation, variant); `status` moves from `active` to
-- `consumed` (by an order) or `released`; an active hold past `expires_at` no longer counts.
CREATE TABLE inventory.reservations (
    reservation_id uuid NOT NULL,
    tenant_id      uuid NOT NULL REFERENCES platform.tenants (id),
    variant_id     uuid NOT NULL,
    location_id    uuid NOT NULL,
    quantity       bigint NOT NULL CHECK (quantity > 0),
    status         text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'consumed', 'released')),
    reference      text CHECK (length(reference) BETWEEN 1 AND 200),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz,
    PRIMARY KEY (reservation_id, variant_id),
    FOREIGN KEY (tenant_id, variant_id, location_id)
        REFERENCES inventory.stock (tenant_id, variant_id, location_id)
);
CREATE INDEX reservations_active ON inventory.reservations (tenant_id, variant_id, location_id)
    WHERE status = 'active';
SELECT platform.enable_tenant_rls('inventory.reservations');

CREATE TABLE inventory.transfers (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES platform.tenants (id),
    from_location_id uuid NOT NULL,
    to_location_id   uuid NOT NULL,
    lines            jsonb NOT NULL,
    reason           text CHECK (length(reason) <= 500),
    actor_user_id    uuid,
    occurred_at      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (from_location_id <> to_location_id),
    FOREIGN KEY (tenant_id, from_location_id) REFERENCES platform.locations (tenant_id, id),
    FOREIGN KEY (tenant_id, to_location_id) REFERENCES platform.locations (tenant_id, id)
);
SELECT platform.enable_tenant_rls('inventory.transfers');
