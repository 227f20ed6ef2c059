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
# draw replies the worker cannot store; it refuses them, the SMSC redelivers.
$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 73, fault => sub {
	my ($m) = @_;
	$node->safe_psql('postgres', 'ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()');
	my %before = $sim->stats;
	sleep 4;
	my %during = $sim->stats;
	$node->safe_psql('postgres', 'SET default_transaction_read_only = off; ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()');
	Test::More->builder->todo_start('defect D: a read-only database makes the worker exit instead of refusing replies');
	cmp_ok($during{deliver_errors} - $before{deliver_errors}, '>', 0,
		'read-only: replies refused with an error status ('
		  . ($during{deliver_errors} - $before{deliver_errors}) . ')');
	Test::More->builder->todo_end;
});
NpsLoop::check($r, 'read-only 4 s', max_dups => $window, known => 'defect D: a read-only database makes the worker exit instead of refusing replies');
cmp_ok($r->{redeliveries}, '>', 0, "read-only: the SMSC delivered refused replies again ($r->{redeliveries})");

$node->stop;
$sim->stop;
done_testing();
