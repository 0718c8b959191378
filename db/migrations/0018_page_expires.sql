-- ESI caches each page of a paged list on its own: the Expires of every page
-- of a region's public contracts is kept beside its ETag (both from the last
-- read, a 304's too), so what was announced for each page can be shown and
-- checked. The region's task is not leased again before the latest of them
-- (entity_cache.expires_at, which the agent reports for the whole read).
ALTER TABLE contract_region_pages ADD COLUMN expires_at TIMESTAMPTZ;
