-- Analytics (issue 6): the business day's configurable start, and the sales rollups.

-- When a location's business day starts, in local wall-clock time: orders before it belong
-- to the previous business day (a bar open until 03:00 sets 04:00). Before noon, so most of a
-- business day lies on its own date. olympus::sales::orders::business_date applies it.
ALTER TABLE platform.locations
    ADD COLUMN day_cutoff time NOT NULL DEFAULT '00:00'
        CONSTRAINT locations_day_cutoff_morning CHECK (day_cutoff < '12:00');
