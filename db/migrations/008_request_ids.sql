-- Each sale remembers the HTTP request that brought it (X-Request-ID, given by the till or
-- made by the service), so a till's report, our logs and the stored sale can be matched.
-- NULL for sales the loader imported and for those stored before this migration. Adding a
-- nullable column without a default rewrites nothing, whatever the size of the table.
ALTER TABLE purchases ADD COLUMN request_id text;
