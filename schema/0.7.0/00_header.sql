-- nps 0.6.0 -> 0.7.0: "latest visit wins" across loads is decided when the
-- older session comes due, not by updating it while the newer visit loads.
-- Assembled from schema/0.7.0/*.sql by the Makefile; a fresh install of 0.7.0
-- runs nps--0.1.0.sql and the upgrade scripts up to this one.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.7.0'" to load this file. \quit
