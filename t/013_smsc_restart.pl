# The SMSC dies mid-window (simulator killed and started again on the same
# port): the worker reconnects, every message is sent, nothing is lost, and
# the messages sent twice (in the window when the SMSC died, outcome
# unknown) are at most the ones counted as requeued.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsTest::Sim->start('--receipt-delay-ms', '10', '--log', $log);
my $node = NpsTest::node('smsc_restart');
NpsTest::add_bind($node, 'main', $sim->port, window_size => 50, max_parts_per_second => 500,
	response_timeout => '1 second', reconnect_min => '100 ms', reconnect_max => '500 ms');
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'bound');

$node->safe_psql('postgres',
	"INSERT INTO nps.outbox (msisdn, source_addr, body) "
	  . "SELECT '7916' || lpad(g::text, 7, '0'), '0650', 'restart test ' || g FROM generate_series(1, 1000) g");
ok(NpsTest::wait_for($node, "SELECT count(*) >= 300 FROM nps.outbox WHERE state IN ('submitted', 'delivered')"),
	'sending under way');
$sim->restart;
ok(NpsTest::wait_for($node, "SELECT count(*) = 1000 FROM nps.outbox WHERE state IN ('submitted', 'delivered')", 60),
	'every message accepted by an SMSC after the restart');
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.outbox WHERE state NOT IN ('submitted', 'delivered')"),
	'0', 'none failed or stuck');
my ($missing, $dups) = NpsTest::compare_with_sim_log($node, $log, 'true');
is($missing, 0, 'every message reached the simulator');
my ($requeued, $reconnects) = split /\|/,
  $node->safe_psql('postgres', 'SELECT requeued, reconnects FROM nps.smsc_status');
cmp_ok($reconnects, '>=', 1, 'reconnected');
cmp_ok($dups, '<=', $requeued, "sent twice: $dups, all among the $requeued requeued with an unknown outcome");
note("duplicates $dups, requeued $requeued, reconnects $reconnects");

$node->stop;
$sim->stop;
done_testing();
