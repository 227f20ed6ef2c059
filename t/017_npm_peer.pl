# Interop with an SMSC we did not write: sim/peer/smsc.js on the npm smpp
# package.  Skipped when node or the package (npm ci in sim/peer) is missing.
use strict;
use warnings;
use IPC::Run;
use Encode qw(encode);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NpsTest;

my $peer_dir = "$NpsTest::ROOT/sim/peer";
plan skip_all => 'node is not installed' unless grep { -x "$_/node" } split /:/, $ENV{PATH};
plan skip_all => 'npm smpp package missing (run npm ci in sim/peer)' unless -d "$peer_dir/node_modules/smpp";

my ($in, $out, $err) = ('', '', '');
my $h = IPC::Run::start([ 'node', "$peer_dir/smsc.js", '--port', '0', '--receipt-delay-ms', '50' ],
	'<', \$in, '>', \$out, '2>', \$err);
my $deadline = time + 20;
$h->pump_nb, usleep(50_000) while time < $deadline && $out !~ /listening on 127\.0\.0\.1:(\d+)/;
my ($port) = $out =~ /listening on 127\.0\.0\.1:(\d+)/ or BAIL_OUT("peer did not start: $err");

my $node = NpsTest::node('npm_peer');
NpsTest::add_bind($node, 'peer', $port);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 10), 'bound to the npm smpp SMSC');

NpsTest::queue_messages($node, 1, 'Оцените салон от 0 до 10', '79160000001');
NpsTest::queue_messages($node, 1, 'A long survey text in GSM 03.38. ' x 6, '79160000002');
ok(NpsTest::wait_for($node, "SELECT count(*) = 2 FROM nps.outbox WHERE state = 'delivered'"),
	'both delivered, receipts matched');
$h->pump_nb;
my @events = map { decode_json($_) } grep { /^\{/ } split /\n/, $out;
my @submits = grep { $_->{event} eq 'submit_sm' } @events;
my ($cyr) = grep { $_->{dest} eq '79160000001' } @submits;
is($cyr->{data_coding}, 8, 'Cyrillic as UCS-2');
is(encode('UTF-8', $cyr->{text}), 'Оцените салон от 0 до 10', 'the peer decodes the same text');
my @long = grep { $_->{dest} eq '79160000002' } @submits;
is(scalar(@long), 2, 'long GSM text in 2 parts');
ok((grep { $_->{udh} } @long) == 2, 'each with a concatenation UDH');

$in .= "mo 79161234567 0650 Спасибо, 9\n";
$h->pump_nb;
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = 'Спасибо, 9'"), 'reply from the peer stored');
$h->pump_nb for 1 .. 5;
@events = map { decode_json($_) } grep { /^\{/ } split /\n/, $out;
ok((grep { $_->{event} eq 'deliver_sm_resp' && $_->{what} eq 'mo' && $_->{status} == 0 } @events),
	'and acknowledged with status 0');

$node->stop;
$in .= "quit\n";
$h->pump_nb;
$h->kill_kill;
done_testing();
