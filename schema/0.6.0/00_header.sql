-- nps 0.5.0 -> 0.6.0: a subscriber's next message waits while a reply of
-- theirs may still be redelivered.
-- Assembled from schema/0.6.0/*.sql by the Makefile; a fresh install of 0.6.0
-- runs nps--0.1.0.sql and the upgrade scripts up to this one.
\echo Use "ALTER EXTENSION nps UPDATE TO '0.6.0'" to load this file. \quit
