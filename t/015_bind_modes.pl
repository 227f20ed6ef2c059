# Bind variants: transmitter + receiver (two connections), long texts as
# SAR TLVs and as message_payload, decimal message ids, data_coding 0 (GSM)
# and 8 (UCS-2), concatenated replies with 16-bit UDH and SAR.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $log = PostgreSQL::Test::Utils::tempdir() . '/submits.tsv';
my $sim = NpsTest::Sim->start('--receipt-delay-ms', '20', '--id-format', 'dec', '--mo-concat', 'udh16',
	'--log', $log);
my $node = NpsTest::node('bind_modes');
NpsTest::add_bind($node, 'trx', $sim->port, bind_mode => 'transmitter_receiver', long_message => 'sar');
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'transmitter and receiver bound');
my %s = $sim->stats;
is($s{connections}, 2, 'two connections');

# GSM text (fits 03.38): data_coding 0; a 400-character GSM text takes 3 SAR parts.
NpsTest::queue_messages($node, 1, 'Rate us 0-10 {please}', '79160000001');
NpsTest::queue_messages($node, 1, 'x' x 400, '79160000002');
ok(NpsTest::wait_for($node, "SELECT count(*) = 2 FROM nps.outbox WHERE state = 'delivered'"),
	'delivered with decimal ids');
is($node->safe_psql('postgres', "SELECT parts FROM nps.outbox WHERE msisdn = '79160000002'"), '3', 'SAR: 3 parts');
my @lines = map { [ split /\t/ ] } split /\n/, slurp_file($log);
my ($short) = grep { $_->[5] eq '79160000001' } @lines;
is($short->[6], 0, 'GSM 03.38 text sent with data_coding 0');
is($short->[-1], 'Rate us 0-10 {please}', 'extension characters intact');
like($node->safe_psql('postgres', "SELECT message_id FROM nps.outbox WHERE msisdn = '79160000001'"),
	qr/^\d+$/, 'decimal message id recorded');

# message_payload: one submit_sm for a long text.
$node->safe_psql('postgres', "UPDATE nps.smsc SET long_message = 'payload'");
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'rebound after the change');
NpsTest::queue_messages($node, 1, 'Ю' x 150, '79160000003');
ok(NpsTest::wait_for($node, "SELECT state = 'delivered' FROM nps.outbox WHERE msisdn = '79160000003'"),
	'payload message delivered');
is($node->safe_psql('postgres', "SELECT parts FROM nps.outbox WHERE msisdn = '79160000003'"), '1',
	'message_payload: one part');
@lines = grep { $_->[5] eq '79160000003' } map { [ split /\t/ ] } split /\n/, slurp_file($log);
is(scalar(@lines), 1, 'one submit_sm');
is($lines[0][6], 8, 'UCS-2 (data_coding 8)');

# Replies on the receiver connection, long ones with a 16-bit UDH reference.
my $reply = 'Спасибо! ' x 20;
$reply =~ s/ $//;
like($sim->control("mo 79161234567 0652 $reply"), qr/^ok queued [2-9] parts/, 'long reply sent');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = '$reply' AND short_code = '0652'"),
	'reassembled from 16-bit UDH parts');

$node->stop;
$sim->stop;

# SAR replies: a second simulator that concatenates with SAR TLVs.
$sim = NpsTest::Sim->start('--mo-concat', 'sar');
$node->start;
$node->safe_psql('postgres', "UPDATE nps.smsc SET port = " . $sim->port);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'bound to the SAR simulator');
like($sim->control("mo 79161234567 0653 $reply"), qr/^ok queued [2-9] parts/, 'long SAR reply sent');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = '$reply' AND short_code = '0653'"),
	'reassembled from SAR parts');

$node->stop;
$sim->stop;
done_testing();
