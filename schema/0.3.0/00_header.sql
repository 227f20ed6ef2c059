-- nps 0.2.0 -> 0.3.0: a faster store for the worker and the reply path, cheaper
-- alert detection, monthly partitions with retention, and the fault fixes.
-- Assembled from schema/0.3.0/*.sql by the Makefile; a fresh install of 0.3.0
-- runs nps--0.1.0.sql, nps--0.1.0--0.2.0.sql and then this script.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.3.0'" to load this file. \quit
