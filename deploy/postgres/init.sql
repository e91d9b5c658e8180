-- Runs once, when the postgres container starts on an empty data volume
-- (/docker-entrypoint-initdb.d), as POSTGRES_USER, who then owns these databases.
-- One database per service: a service never reads another service's data.
CREATE DATABASE ingest;
CREATE DATABASE customers;
CREATE DATABASE invoicing;
CREATE DATABASE inventory;
