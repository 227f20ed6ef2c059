# A storm of throttled submits drains at the pace the back-off sets: one
# pause per refused window (100 ms, doubling up to 5 s: src/sender.c), not
# one doubling per refused response; and it drains even when it begins with
# a single message on the wire and the queue fills behind it (the claim goes
# on during a pause, so the next window is full).  Each bound is the sum of
# the pauses the storm needs at window_size refusals per pause, plus a
# slack for the round trips (NpsTest::storm_bound).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use POSIX qw(ceil);
use Test::More;
use Time::HiRes qw(time);
use NpsTest;

my $window = 10;
my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsTest::Sim->start('--receipt-delay-ms', '20', '--log', $log);
my $node = NpsTest::node('throttle_storm');
NpsTest::add_bind($node, 'main', $sim->port, window_size => $window);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 20), 'bound');

sub throttled { my %s = $sim->stats; return $s{throttled}; }

sub accepted
{
	my ($body) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM nps.outbox WHERE body = '$body' AND state IN ('submitted', 'delivered')");
}

# Full windows: 60 messages queued, 40 refusals = 4 refused windows.
my $storm = 40;
my $t0_throttled = throttled();
$sim->control("throttle $storm");
my $t0 = time;
NpsTest::queue_messages($node, 55, 'storm');
$node->safe_psql('postgres',
	"INSERT INTO nps.outbox (msisdn, source_addr, body) SELECT '79169999999', '0650', 'storm ' || g FROM generate_series(1, 5) g");
# (the subscriber with 5 messages gets one a second: not the storm's pace)
ok(NpsTest::wait_for($node,
	"SELECT count(*) = 55 FROM nps.outbox WHERE body = 'storm' AND state IN ('submitted', 'delivered')", 60),
	'the messages to 55 subscribers accepted');
my $took = time - $t0;
is(throttled() - $t0_throttled, $storm, "$storm throttled responses");
my $n = ceil($storm / $window);
# the refused windows, then the accepted one
my $bound = NpsTest::storm_bound(0, $n + 1);
cmp_ok($took, '<=', $bound,
	sprintf('%d refusals in windows of %d drained in %.1f s <= %.1f s (%d windows)', $storm, $window, $took, $bound, $n));
ok(NpsTest::wait_for($node,
	"SELECT count(*) = 5 FROM nps.outbox WHERE body LIKE 'storm _' AND state IN ('submitted', 'delivered')", 60),
	'and the 5 to one subscriber');
my @order = map { (split /\t/)[-1] } grep { (split /\t/)[5] eq '79169999999' && (split /\t/)[3] ne '-' }
  split /\n/, slurp_file($log);
is(join(',', @order), join(',', map { "storm $_" } 1 .. 5), "one subscriber's messages accepted in order");
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'bound again after the storm');

# One message alone on the wire when the storm begins; 30 more are queued
# once it has been refused.  The old back-off kept the queue waiting while
# that one message probed the SMSC every 5 s: 40 refusals took 200 s.
$storm = 40;
$t0_throttled = throttled();
$sim->control("throttle $storm");
NpsTest::queue_messages($node, 1, 'alone');
ok(NpsTest::wait_for($node, "SELECT throttled > $t0_throttled FROM nps.smsc_status", 10), 'the lone message is refused');
my $before = throttled() - $t0_throttled;
$t0 = time;
NpsTest::queue_messages($node, 30, 'behind');
my $after = throttled() - $t0_throttled;
ok(NpsTest::wait_for($node,
	"SELECT count(*) = 31 FROM nps.outbox WHERE body IN ('alone', 'behind') AND state IN ('submitted', 'delivered')", 300),
	'the lone message and the 30 behind it accepted');
$took = time - $t0;
is(throttled() - $t0_throttled, $storm, "$storm throttled responses");
# alone, each refusal was a pause: at most $after pauses before, at most one
# more window with the lone message alone, then full windows
$n = 1 + ceil(($storm - $before) / $window);
$bound = NpsTest::storm_bound($after, $n + 1);
cmp_ok($took, '<=', $bound,
	sprintf('%d refusals left after %d of a lone message drained in %.1f s <= %.1f s (%d windows)',
		$storm - $before, $before, $took, $bound, $n));

$node->stop;
$sim->stop;
done_testing();
