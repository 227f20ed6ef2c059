# The whole survey loop under database-side faults, counted: PostgreSQL
# stopped in immediate mode mid-send and started again, the SMPP worker
# killed with SIGKILL (the postmaster then restarts every backend: crash
# recovery), and the database refusing writes while replies arrive (the
# worker answers deliver_sm with an error, the SMSC delivers again, every
# reply is stored once writes are back).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;
use NpsLoop;

my $window = 50;
my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsLoop::sim($log);
my $node = NpsTest::node('loop_crashes', 'restart_after_crash = on');
NpsLoop::prepare($node, $sim, window_size => $window);

# A crash mid-window: the messages in 'sending' are queued again at start-up;
# those whose submit_sm had reached the SMSC go twice (at most a window).
my $r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 71, fault => sub {
	$node->stop('immediate');
	$node->start;
});
NpsLoop::check($r, 'pg immediate', max_dups => $window);

$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 72, fault => sub {
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'nps smpp worker'");
	ok($pid =~ /^\d+$/, "SIGKILL: the worker's pid $pid");
	kill 'KILL', $pid;
	# the postmaster restarts every backend; wait until it accepts connections
	$node->poll_query_until('postgres', 'SELECT true');
});
NpsLoop::check($r, 'worker SIGKILL', max_dups => $window);

# Writes refused while the subscribers answer: the questions already out
# draw replies the worker cannot store; it refuses them with a transient
# error and stays bound, the SMSC redelivers, every reply is stored once
# writes are back.
my $log_at = -s $node->logfile;
my $worker = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'nps smpp worker'};
my $pid = $node->safe_psql('postgres', $worker);
$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 73, fault => sub {
	my ($m) = @_;
	$node->safe_psql('postgres', 'ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()');
	my %before = $sim->stats;
	sleep 4;
	my %during = $sim->stats;
	my ($state, $error) = split /\|/, $node->safe_psql('postgres', 'SELECT state, last_error FROM nps.smsc_status');
	$node->safe_psql('postgres', 'SET default_transaction_read_only = off; ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()');
	cmp_ok($during{deliver_errors} - $before{deliver_errors}, '>', 0,
		'read-only: replies refused with an error status ('
		  . ($during{deliver_errors} - $before{deliver_errors}) . ')');
	is($state, 'bound', 'read-only: the bind stays up');
	like($error, qr/read-only/, "read-only: the error is in smsc_status.last_error ($error)");
});
NpsLoop::check($r, 'read-only 4 s', max_dups => $window);
cmp_ok($r->{redeliveries}, '>', 0, "read-only: the SMSC delivered refused replies again ($r->{redeliveries})");
is($node->safe_psql('postgres', $worker), $pid, 'read-only: the same worker throughout');
my $server_log = substr(slurp_file($node->logfile), $log_at);
my $exits = () = $server_log =~ /background worker "nps [^"]*" \(PID \d+\) exited/g;
is($exits, 0, 'read-only: no nps worker or launcher exited');
my $failures = () = $server_log =~ /could not record the results of the bind/g;
is($failures, 1, 'read-only: the failure logged once, not per attempt or per reply');
like($server_log, qr/results recorded again after \d+ failed attempts/, 'read-only: the recovery logged');

$node->stop;
$sim->stop;
done_testing();
