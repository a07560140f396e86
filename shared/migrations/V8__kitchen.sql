-- Kitchen (issue 5): stations per location, the categories they cook, and the tickets placing
-- an order creates (one per order and station) with their items. Every table is under the
-- standard tenant RLS policy; references carry the tenant (composite keys) because foreign-key
-- checks bypass RLS.

CREATE SCHEMA IF NOT EXISTS kitchen;

-- A station (grill, bar, pastry) at a location. The default station (at most one per
-- location) takes the lines whose category no station cooks. An inactive station gets no new
-- tickets.
CREATE TABLE kitchen.stations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES platform.tenants (id),
    location_id uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    is_default  boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stations_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT stations_tenant_location_id_key UNIQUE (tenant_id, location_id, id),
    CONSTRAINT stations_name_key UNIQUE (tenant_id, location_id, name),
    FOREIGN KEY (tenant_id, location_id) REFERENCES platform.locations (tenant_id, id)
);
CREATE UNIQUE INDEX stations_one_default ON kitchen.stations (tenant_id, location_id)
    WHERE is_default;
SELECT platform.enable_tenant_rls('kitchen.stations');

-- Which categories a station cooks: a category goes to at most one station per location. A
-- product in a subcategory goes to the station of its nearest mapped ancestor.
CREATE TABLE kitchen.station_categories (
    tenant_id   uuid NOT NULL REFERENCES platform.tenants (id),
    location_id uuid NOT NULL,
    station_id  uuid NOT NULL,
    category_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, station_id, category_id),
    CONSTRAINT station_categories_one_station UNIQUE (tenant_id, location_id, category_id),
    FOREIGN KEY (tenant_id, location_id, station_id)
        REFERENCES kitchen.stations (tenant_id, location_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, category_id) REFERENCES catalog.categories (tenant_id, id)
);
SELECT platform.enable_tenant_rls('kitchen.station_categories');

-- Ticket items reference their order line with the tenant; V6 keys lines by id alone. (IF NOT
-- EXISTS: the same key, under the default constraint name, may come with another change.)
CREATE UNIQUE INDEX IF NOT EXISTS order_lines_tenant_id_id_key
    ON sales.order_lines (tenant_id, id);

-- A ticket: what one station makes for one order, with what the pass needs to call it out
-- (number, table, channel, note) copied at placing time.
CREATE TABLE kitchen.tickets (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES platform.tenants (id),
    location_id  uuid NOT NULL,
    station_id   uuid NOT NULL,
    order_id     uuid NOT NULL,
    order_number text NOT NULL,
    table_label  text,
    channel      text NOT NULL,
    order_note   text,
    status       text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'preparing', 'ready', 'served', 'voided')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    ready_at     timestamptz,
    served_at    timestamptz,
    voided_at    timestamptz,
    version      integer NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tickets_tenant_id_id_key UNIQUE (tenant_id, id),
    CONSTRAINT tickets_one_per_station UNIQUE (tenant_id, order_id, station_id),
    FOREIGN KEY (tenant_id, location_id, station_id)
        REFERENCES kitchen.stations (tenant_id, location_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES sales.orders (tenant_id, id)
);
SELECT platform.enable_tenant_rls('kitchen.tickets');
-- The display's poll: a location's (or station's) open tickets, oldest first.
CREATE INDEX tickets_queue ON kitchen.tickets (tenant_id, location_id, status, id);
CREATE INDEX tickets_by_order ON kitchen.tickets (tenant_id, order_id);

CREATE TABLE kitchen.ticket_items (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES platform.tenants (id),
    ticket_id     uuid NOT NULL,
    order_line_id uuid NOT NULL,
    position      integer NOT NULL,
    product_name  text NOT NULL,
    variant_name  text NOT NULL,
    quantity      bigint NOT NULL CHECK (quantity > 0),
    modifiers     jsonb NOT NULL DEFAULT '[]',
    note          text,
    UNIQUE (tenant_id, ticket_id, position),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES kitchen.tickets (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, order_line_id) REFERENCES sales.order_lines (tenant_id, id)
);
SELECT platform.enable_tenant_rls('kitchen.ticket_items');
