# The launcher: waits for CREATE EXTENSION, follows nps.smsc inserts,
# changes, disables and deletes within a second or two, obeys nps.enabled,
# and restarts a worker that died.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use NpsTest;

my $sim = NpsTest::Sim->start;
my $node = PostgreSQL::Test::Cluster->new('launcher');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron,nps'
cron.database_name = 'postgres'
nps.database = 'postgres'
));
$node->start;

sub workers
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nps smpp worker'");
}

sub worker_pid
{
	my ($name) = @_;
	return $node->safe_psql('postgres', "SELECT coalesce(pid, 0) FROM nps.smsc_status WHERE name = '$name'");
}

# Before the extension exists the launcher waits; creating it is enough.
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nps launcher'"), 'launcher runs');
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION nps CASCADE');
my $t0 = time;
NpsTest::add_bind($node, 'one', $sim->port);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status WHERE name = 'one'", 5),
	'first bind up after CREATE EXTENSION and INSERT');
my $took = time - $t0;
cmp_ok($took, '<', 2, sprintf('insert to bound in %.2f s', $took));

$t0 = time;
NpsTest::add_bind($node, 'two', $sim->port);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status WHERE name = 'two'", 5),
	'second bind up');
cmp_ok(time - $t0, '<', 2, 'within 2 s');
is(workers(), '2', 'one worker per enabled bind');

# A change restarts the bind's worker.
my $pid = worker_pid('two');
$t0 = time;
$node->safe_psql('postgres', "UPDATE nps.smsc SET window_size = 7 WHERE name = 'two'");
ok(NpsTest::wait_for($node,
	"SELECT state = 'bound' AND pid <> $pid FROM nps.smsc_status WHERE name = 'two'", 5),
	'changed bind restarted');
cmp_ok(time - $t0, '<', 2, 'within 2 s');

# Disable, then delete.
$t0 = time;
$node->safe_psql('postgres', "UPDATE nps.smsc SET enabled = false WHERE name = 'two'");
ok(NpsTest::wait_for($node, "SELECT state = 'disabled' AND pid IS NULL FROM nps.smsc_status WHERE name = 'two'", 5),
	'disabled bind stopped');
cmp_ok(time - $t0, '<', 2, 'within 2 s');
is(workers(), '1', 'one worker left');
$node->safe_psql('postgres', "DELETE FROM nps.smsc WHERE name = 'two'");
ok(NpsTest::wait_for($node, "SELECT count(*) = 0 FROM nps.smsc_counters() WHERE name = 'two'", 5),
	'deleted bind forgotten');

# A worker that dies is started again.
$pid = worker_pid('one');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok(NpsTest::wait_for($node,
	"SELECT state = 'bound' AND pid <> $pid FROM nps.smsc_status WHERE name = 'one'", 10),
	'terminated worker restarted by the launcher');

# nps.enabled = off stops everything; on starts it again.
$node->append_conf('postgresql.conf', "nps.enabled = off\n");
$node->reload;
ok(NpsTest::wait_for($node, "SELECT state = 'waiting' FROM nps.smsc_status WHERE name = 'one'", 5),
	'nps.enabled = off stops the workers');
is(workers(), '0', 'no worker while disabled');
NpsTest::queue_messages($node, 2);
sleep 1;
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.outbox WHERE state = 'queued'"), '2',
	'messages wait while disabled');
$node->append_conf('postgresql.conf', "nps.enabled = on\n");
$node->reload;
ok(NpsTest::wait_for($node, "SELECT count(*) = 2 FROM nps.outbox WHERE state IN ('submitted', 'delivered')", 10),
	'sending resumes with nps.enabled = on');

$node->stop;
$sim->stop;
done_testing();
