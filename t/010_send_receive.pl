# Bind, send and receive in Cyrillic, multi-part both ways, receipts,
# smsc_status counters, and an orderly unbind when the bind is disabled.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $sim = NpsTest::Sim->start('--receipt-delay-ms', '50');
my $node = NpsTest::node('send_receive');
NpsTest::add_bind($node, 'main', $sim->port);

ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status WHERE name = 'main'", 10),
	'bind comes up');

# Short Cyrillic messages: UCS-2, one part each, delivered by receipt.
NpsTest::queue_messages($node, 3, 'Оцените салон от 0 до 10');
ok(NpsTest::wait_for($node, "SELECT count(*) = 3 FROM nps.outbox WHERE state = 'delivered'"),
	'three messages delivered');
# A single part is the message itself: its id is nps.outbox.message_id, and
# nps.outbox_part holds the parts of multi-part messages only.
is($node->safe_psql('postgres',
	"SELECT count(*) FROM nps.outbox o WHERE o.parts = 1 AND o.message_id <> '' AND o.smsc_name = 'main' "
	  . "AND o.submitted_at IS NOT NULL AND o.done_at IS NOT NULL "
	  . "AND NOT EXISTS (SELECT FROM nps.outbox_part p WHERE p.outbox_id = o.id)"),
	'3', 'each single-part message has its message id');

# A long Cyrillic text: 200 characters of UCS-2 take 3 parts (67 per part).
my $long = 'Ж' x 200;
NpsTest::queue_messages($node, 1, $long, '79160000099');
ok(NpsTest::wait_for($node, "SELECT state = 'delivered' FROM nps.outbox WHERE msisdn = '79160000099'"),
	'long message delivered');
is($node->safe_psql('postgres',
	"SELECT o.parts || ':' || count(p.*) FROM nps.outbox o JOIN nps.outbox_part p ON p.outbox_id = o.id "
	  . "WHERE o.msisdn = '79160000099' GROUP BY o.parts"), '3:3', 'three parts, each recorded');
my %s = $sim->stats;
is($s{unique_messages}, 4, 'simulator got 4 distinct messages');
is($s{submit_parts} // $s{submits}, 6, 'in 6 submit_sm');

# Replies: short and long (concatenated by the simulator with a UDH).
like($sim->control('mo 79161234567 0650 Спасибо, 10'), qr/^ok/, 'simulator sends a reply');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = 'Спасибо, 10' AND smsc_name = 'main'"),
	'reply stored in Cyrillic');
my $long_reply = 'Очень долго ждал специалиста, ' x 8;
$long_reply =~ s/ $//;
like($sim->control("mo 79161234567 0651 $long_reply"), qr/^ok queued [2-9] parts/, 'simulator sends a long reply');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = '$long_reply'"),
	'long reply reassembled');
is($node->safe_psql('postgres', 'SELECT count(*) FROM nps.inbox_part'), '0', 'no parts left over');

is($node->safe_psql('postgres',
	"SELECT format('%s %s %s %s %s', submitted, acknowledged, delivered, received, failed) FROM nps.smsc_status"),
	'6 6 6 2 0', 'counters: submitted acknowledged delivered received failed');
%s = $sim->stats;
is($s{mo_acked}, $s{mo_sent}, 'every reply part acknowledged');

# Disabling the bind unbinds within a second or two.
$node->safe_psql('postgres', "UPDATE nps.smsc SET enabled = false WHERE name = 'main'");
ok(NpsTest::wait_for($node, "SELECT state = 'disabled' FROM nps.smsc_status WHERE name = 'main'", 3),
	'disabled bind stops');
%s = $sim->stats;
is($s{connections}, 0, 'connection closed after unbind');

$node->stop;
$sim->stop;
done_testing();
