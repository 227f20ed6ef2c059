-- nps 0.4.0 -> 0.5.0: visits scheduled by a C trigger that writes the
-- sessions itself.
-- Assembled from schema/0.5.0/*.sql by the Makefile; a fresh install of 0.5.0
-- runs nps--0.1.0.sql and the upgrade scripts up to this one.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.5.0'" to load this file. \quit
