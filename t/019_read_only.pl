# A read-only database (default_transaction_read_only = on, reloaded): the
# SMPP worker stays bound, refuses replies and receipts with ESME_RX_T_APPN
# (the SMSC delivers them again), keeps the submit results it cannot record
# and records them once writes are back, without sending anything twice;
# the launcher survives a stopped bind it cannot recover yet.  One log line
# opens each episode, one closes it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $sim = NpsTest::Sim->start('--receipt-delay-ms', '20', '--redeliver-ms', '300');
my $node = NpsTest::node('read_only');
NpsTest::add_bind($node, 'main', $sim->port, response_timeout => '10 seconds');
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 20), 'bound');
my $worker = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'nps smpp worker'};
my $launcher = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'nps launcher'};
my $worker_pid = $node->safe_psql('postgres', $worker);
my $launcher_pid = $node->safe_psql('postgres', $launcher);
my $log_at = -s $node->logfile;

sub read_only
{
	my ($on) = @_;
	$node->safe_psql('postgres', $on
		? 'ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()'
		: 'SET default_transaction_read_only = off; ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()');
	sleep 1;    # the workers take the reload at their next turn
}

sub server_log { return substr(slurp_file($node->logfile), $log_at); }

# Ten submit_sm on the wire (the SMSC not reading) when writes stop; their
# submit_sm_resp, a reply and the receipts arrive while the database is
# read-only.
$sim->control('hang on');
NpsTest::queue_messages($node, 10, 'in flight');
ok(NpsTest::wait_for($node, "SELECT window_in_use = 10 FROM nps.smsc_status", 20), 'ten submit_sm on the wire');
read_only(1);
$sim->control('mo 79160000001 0650 hello');
$sim->control('hang off');
ok(NpsTest::wait_for($node, "SELECT window_in_use = 0 FROM nps.smsc_status", 20), 'their submit_sm_resp arrived');
my %s;
for (1 .. 50)
{
	%s = $sim->stats;
	last if $s{deliver_errors} > 0;
	select(undef, undef, undef, 0.1);
}
cmp_ok($s{deliver_errors}, '>', 0, "deliver_sm refused with an error status ($s{deliver_errors})");
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.outbox WHERE body = 'in flight' AND state = 'sending'"),
	'10', 'the accepted messages are not recorded yet');
is($node->safe_psql('postgres', 'SELECT state FROM nps.smsc_status'), 'bound', 'the bind stays up');
like($node->safe_psql('postgres', 'SELECT last_error FROM nps.smsc_status'), qr/read-only transaction/,
	'smsc_status.last_error says why');

read_only(0);
ok(NpsTest::wait_for($node,
	"SELECT count(*) = 10 FROM nps.outbox WHERE body = 'in flight' AND state = 'delivered'", 30),
	'writes back: accepted and delivered recorded');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = 'hello'", 30),
	'the refused reply stored once, when delivered again');
%s = $sim->stats;
is($s{duplicates}, 0, 'nothing sent twice');
cmp_ok($s{redeliveries}, '>', 0, "the SMSC delivered again ($s{redeliveries})");
is($node->safe_psql('postgres', $worker), $worker_pid, 'the same worker throughout');
my $log = server_log();
is(scalar(() = $log =~ /could not record the results of the bind/g), 1, 'the failure logged once');
like($log, qr/results recorded again after \d+ failed attempts in \d+ ms; \d+ replies and receipts were refused/,
	'the recovery logged');

# The worker stops while the database is read-only: the launcher cannot
# queue its 'sending' rows again, so it waits, retrying, and starts the
# worker once it could.
$log_at = -s $node->logfile;
read_only(1);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($worker_pid)");
ok(NpsTest::wait_for($node, "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'nps smpp worker'", 20),
	'the worker stopped');
sleep 2;
is($node->safe_psql('postgres', $launcher), $launcher_pid, 'the launcher survives');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nps smpp worker'"),
	'0', 'no worker started before its rows could be recovered');
read_only(0);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 30), 'bound again once writable');
isnt($node->safe_psql('postgres', $worker), $worker_pid, 'by a new worker');
$log = server_log();
is(scalar(() = $log =~ /nps launcher: cannot execute/g), 1, 'the launcher logged the failure once');
like($log, qr/nps launcher: working again after \d+ failed passes/, 'and the recovery');
unlike($log, qr/background worker "nps[^"]*" \(PID \d+\) exited with exit code 1/, 'nothing exited with an error');

$node->stop;
$sim->stop;
done_testing();
