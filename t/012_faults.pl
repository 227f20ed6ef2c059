# Faults on a live bind: wrong password (refused, visible, retried with
# back-off), garbage from the SMSC (generic_nack, no crash), throttling and
# queue-full (paused and retried, a subscriber's order kept), permanent
# refusals (recorded with their code), SMSC-initiated drop (reconnect).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsTest::Sim->start('--password', 'secret', '--receipt-delay-ms', '20', '--log', $log);
my $node = NpsTest::node('faults');

# Wrong password: bind refused, error in smsc_status, retried with back-off.
NpsTest::add_bind($node, 'main', $sim->port, password => 'wrong', reconnect_min => '100 ms',
	reconnect_max => '400 ms');
ok(NpsTest::wait_for($node,
	"SELECT last_error LIKE '%bind_transceiver refused: command_status 0x0000000E%' FROM nps.smsc_status"),
	'refused bind visible in smsc_status');
sleep 2;
my $reconnects = $node->safe_psql('postgres', 'SELECT reconnects FROM nps.smsc_status');
cmp_ok($reconnects, '>=', 3, "retried ($reconnects reconnects in 2 s)");
cmp_ok($reconnects, '<=', 30, 'with back-off, not in a tight loop');
isnt($node->safe_psql('postgres', 'SELECT state FROM nps.smsc_status'), 'bound', 'not bound');

$node->safe_psql('postgres', "UPDATE nps.smsc SET password = 'secret'");
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 5), 'bound with the right password');

# Garbage: a deliver_sm cut short gets generic_nack; the session survives.
like($sim->control('garbage'), qr/^ok sent 1/, 'simulator sends a garbled deliver_sm');
ok(NpsTest::wait_for($node, 'SELECT generic_nacks = 1 FROM nps.smsc_status', 5), 'answered with generic_nack');
is($node->safe_psql('postgres', 'SELECT state FROM nps.smsc_status'), 'bound', 'still bound');

# Throttling: 5 throttled responses, then queue full 3; all messages go,
# and one subscriber's messages keep their order.
$sim->control('throttle 5');
$sim->control('qfull 3');
NpsTest::queue_messages($node, 20);
$node->safe_psql('postgres',
	"INSERT INTO nps.outbox (msisdn, source_addr, body) SELECT '79169999999', '0650', 'message ' || g FROM generate_series(1, 5) g");
ok(NpsTest::wait_for($node, "SELECT count(*) = 25 FROM nps.outbox WHERE state = 'delivered'"),
	'every message delivered after throttling');
is($node->safe_psql('postgres', 'SELECT throttled FROM nps.smsc_status'), '8', '8 throttled responses counted');
# The simulator's log: one line per submit_sm (time, system, seq, msgid or -, src, dst, ...; text last).
my @accepted = map { (split /\t/)[-1] } grep { (split /\t/)[5] eq '79169999999' && (split /\t/)[3] ne '-' }
  split /\n/, slurp_file($log);
is(join(',', @accepted), join(',', map { "message $_" } 1 .. 5), "one subscriber's messages accepted in order");
my %s = $sim->stats;
is($s{duplicates}, 0, 'no message sent twice');

# Permanent refusal: recorded with its command_status.
$sim->control('reject 2 0x45');
NpsTest::queue_messages($node, 2, 'rejected');
ok(NpsTest::wait_for($node, "SELECT count(*) = 2 FROM nps.outbox WHERE body = 'rejected' AND state = 'failed'"),
	'refused messages failed');
is($node->safe_psql('postgres',
	"SELECT DISTINCT error_code || ' ' || error FROM nps.outbox WHERE body = 'rejected'"),
	'69 refused by the SMSC: command_status 0x00000045', 'with the code and the reason');

# The SMSC drops the connection: the worker reconnects by itself.
my $before = $node->safe_psql('postgres', 'SELECT reconnects FROM nps.smsc_status');
like($sim->control('drop'), qr/^ok dropped 1/, 'simulator drops the connection');
ok(NpsTest::wait_for($node, "SELECT state = 'bound' AND reconnects > $before FROM nps.smsc_status", 10),
	'reconnected after the drop');
NpsTest::queue_messages($node, 3, 'after drop');
ok(NpsTest::wait_for($node, "SELECT count(*) = 3 FROM nps.outbox WHERE body = 'after drop' AND state = 'delivered'"),
	'sending goes on');

$node->stop;
$sim->stop;
done_testing();
