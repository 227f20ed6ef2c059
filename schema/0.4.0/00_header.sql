-- nps 0.3.0 -> 0.4.0: partitioned outbox, a cheaper reply path and alert writes,
-- and a faster bulk schedule.
-- Assembled from schema/0.4.0/*.sql by the Makefile; a fresh install of 0.4.0
-- runs nps--0.1.0.sql and the upgrade scripts up to this one.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.4.0'" to load this file. \quit
