# On a hot standby nothing is sent; after promotion sending starts by itself.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $sim = NpsTest::Sim->start('--receipt-delay-ms', '20');
# The primary keeps its worker off: it stands for a primary about to fail.
my $primary = NpsTest::node('primary', 'nps.enabled = off');
NpsTest::add_bind($primary, 'main', $sim->port);
NpsTest::queue_messages($primary, 5);
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->append_conf('postgresql.conf', "nps.enabled = on\n");
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', "SELECT count(*) FROM nps.outbox WHERE state = 'queued'"), '5',
	'standby sees the queued messages');
sleep 2;
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('nps launcher', 'nps smpp worker')"),
	'0', 'no launcher or worker on the standby');
my %s = $sim->stats;
is($s{submits}, 0, 'nothing sent from the standby');

$primary->stop;
$standby->promote;
ok(NpsTest::wait_for($standby, "SELECT count(*) = 5 FROM nps.outbox WHERE state = 'delivered'", 30),
	'after promotion the messages go out');
%s = $sim->stats;
is($s{unique_messages}, 5, 'each once');

$standby->stop;
$sim->stop;
done_testing();
