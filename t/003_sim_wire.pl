# The SMSC simulator's own wire and fault tests (plain sockets, no libsmpp34).
use strict;
use warnings;
exec 'perl', "$ENV{NPS_ROOT}/sim/test_sim.pl", "$ENV{NPS_ROOT}/sim/nps-smsc-sim"
  or die "cannot run sim/test_sim.pl: $!";
