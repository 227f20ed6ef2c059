-- nps 0.7.0 -> 0.8.0: how far each bind's SMSC has read our
-- deliver_sm_resps is recorded, so that after a crash a reply it had read
-- is not taken for one that may come again.
-- Assembled from schema/0.8.0/*.sql by the Makefile; a fresh install of 0.8.0
-- runs nps--0.1.0.sql and the upgrade scripts up to this one.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.8.0'" to load this file. \quit
