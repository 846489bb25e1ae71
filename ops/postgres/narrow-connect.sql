-- Run once by the postgres image's entrypoint when it creates the cluster
-- (/docker-entrypoint-initdb.d): the server's own databases take no connection from the
-- services' roles. PostgreSQL lets every role connect to `postgres` and `template1` and make
-- temporary tables there; the chain's database (POSTGRES_DB) narrows itself in its
-- migrations, these two are narrowed here, by the superuser that owns them.
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
