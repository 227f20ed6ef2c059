# The whole survey loop under SMSC faults, counted: no fault (the baseline),
# the SMSC drops the connection mid-window, hangs longer than
# response_timeout, throttles a storm of submits, reports its queue full.
# The drop is repeated on a transmitter_receiver bind.
# Each round: questions lost 0, replies lost 0, parts sent twice reported
# and bounded (a message whose submit_sm was on the wire when the connection
# went away is sent again: at most a window; throttled and queue-full
# submits were refused, so their resend is no duplicate).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX qw(ceil);
use Time::HiRes qw(time usleep);
use NpsTest;
use NpsLoop;

my $window = 50;
my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsLoop::sim($log);
my $node = NpsTest::node('loop_faults');
NpsLoop::prepare($node, $sim, window_size => $window);

my $r = NpsLoop::round($node, $sim, $log, visits => 100, seed => 60);
NpsLoop::check($r, 'no fault');

$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 61, fault => sub {
	like($sim->control('drop'), qr/^ok dropped 1/, 'drop: the SMSC closes the connection mid-window');
});
NpsLoop::check($r, 'drop', max_dups => $window);

$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 62, fault => sub {
	$sim->control('hang on');
	sleep 4;    # response_timeout is 2 s
	$sim->control('hang off');
});
NpsLoop::check($r, 'hang 4 s', max_dups => $window);

# The drop again on a transmitter_receiver bind: the replies come on the
# receiver connection, which carries none of our submit_sm, so only an
# enquire_link there tells which deliver_sm_resp the SMSC has read.  The
# change of bind_mode restarts the worker (start-up candidates from the
# database), and back after the round.
sub rebind
{
	my ($mode) = @_;
	my $pid = $node->safe_psql('postgres', 'SELECT pid FROM nps.smsc_status');
	$node->safe_psql('postgres', "UPDATE nps.smsc SET bind_mode = '$mode'");
	ok(NpsTest::wait_for($node, "SELECT state = 'bound' AND pid <> $pid FROM nps.smsc_status", 30),
		"$mode: the worker restarted and bound");
}
rebind('transmitter_receiver');
$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 65, fault => sub {
	like($sim->control('drop'), qr/^ok dropped 2/, 'drop (transmitter_receiver): both connections closed mid-window');
});
NpsLoop::check($r, 'drop tx/rx', max_dups => $window);
rebind('transceiver');

# A storm of N refusals drains at the back-off's pace: a window of refusals
# per pause (100 ms doubling up to 5 s), the first two windows possibly
# short (the storm may begin between two questions of most sessions).
# Before the fix one refused window reached the 5 s pause at once, and a
# storm that began with few messages on the wire could starve the queue.
sub storm
{
	my ($command, $n, $drained) = @_;
	return sub {
		my $key = $command eq 'throttle' ? 'throttled' : 'qfull';
		my %before = $sim->stats;
		my %now;
		my $t0 = time;
		$sim->control("$command $n");
		do { usleep(100_000); %now = $sim->stats }
		  until $now{$key} - $before{$key} >= $n || time - $t0 > 180;
		$$drained = time - $t0;
	};
}

for my $storm (['throttle', 500, 63], ['qfull', 300, 64])
{
	my ($command, $n, $seed) = @$storm;
	my $drained;
	$r = NpsLoop::round($node, $sim, $log, visits => 150, seed => $seed,
		fault => storm($command, $n, \$drained));
	NpsLoop::check($r, "$command $n");
	my $windows = 2 + ceil($n / $window);
	my $bound = NpsTest::storm_bound(0, $windows);
	cmp_ok($drained, '<=', $bound, sprintf('%s %d: drained in %.1f s <= %.1f s (%d windows)',
		$command, $n, $drained, $bound, $windows));
}
cmp_ok($node->safe_psql("postgres", "SELECT throttled FROM nps.smsc_status"), ">=", 800,
	"throttle 500, qfull 300: every refused response counted");

$node->stop;
$sim->stop;
done_testing();
