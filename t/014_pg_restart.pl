# PostgreSQL stops in immediate mode mid-window and starts again: messages
# left in 'sending' are queued again at start-up, every message is sent,
# nothing is lost, and the ones the simulator got twice are at most the ones
# counted as requeued (SMPP cannot tell whether a submit_sm whose response
# was lost reached the SMSC).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsTest::Sim->start('--receipt-delay-ms', '10', '--log', $log);
my $node = NpsTest::node('pg_restart');
NpsTest::add_bind($node, 'main', $sim->port, window_size => 50, max_parts_per_second => 500);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'bound');

$node->safe_psql('postgres',
	"INSERT INTO nps.outbox (msisdn, source_addr, body) "
	  . "SELECT '7916' || lpad(g::text, 7, '0'), '0650', 'crash test ' || g FROM generate_series(1, 1000) g");
ok(NpsTest::wait_for($node, "SELECT count(*) >= 300 FROM nps.outbox WHERE state IN ('submitted', 'delivered')"),
	'sending under way');
$node->stop('immediate');
$node->start;
ok(NpsTest::wait_for($node, "SELECT count(*) = 1000 FROM nps.outbox WHERE state IN ('submitted', 'delivered')", 60),
	'every message accepted after the restart');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1000 FROM nps.outbox WHERE state = 'delivered'", 30),
	'and delivered (receipts matched)');
my ($missing, $dups) = NpsTest::compare_with_sim_log($node, $log, 'true');
is($missing, 0, 'every message reached the simulator');
my $requeued = $node->safe_psql('postgres', 'SELECT requeued FROM nps.smsc_status');
cmp_ok($dups, '<=', $requeued, "sent twice: $dups, all among the $requeued requeued at start-up");
like(slurp_file($node->logfile), qr/message\(s\) left in sending were queued again/,
	'the requeue is logged with its explanation');
note("duplicates $dups, requeued $requeued");

$node->stop;
$sim->stop;
done_testing();
