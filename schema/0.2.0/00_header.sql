-- nps 0.1.0 -> 0.2.0: the SMPP engine, the survey engine, alerts and analytics.
-- Assembled from schema/0.2.0/*.sql by the Makefile; a fresh install of 0.2.0
-- runs nps--0.1.0.sql and then this script.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.2.0'" to load this file. \quit
