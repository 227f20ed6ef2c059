------------------------------------------------------------------------------
-- nps.visit.external_ref compared byte by byte
------------------------------------------------------------------------------

-- The source systems' visit identifier is only ever tested for equality
-- (its unique key, ON CONFLICT (external_ref) of every loader), yet under
-- the database's linguistic collation each comparison of the unique index
-- went through strcoll: on a million visits loaded in time order, whose
-- identifiers arrive in no order, that index alone cost 6.6 s of CPU, 4.2 s
-- with "C" (bench/RESULTS-survey.md).  Equality is the same under both
-- (both are deterministic), a comparison with a value of the default
-- collation takes "C", and the unique constraint keeps its name.  The index
-- is rebuilt, under an exclusive lock on nps.visit.
ALTER TABLE nps.visit ALTER COLUMN external_ref TYPE text COLLATE "C";
