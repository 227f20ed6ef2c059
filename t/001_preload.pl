# The module with and without shared_preload_libraries: the launcher runs when
# preloaded, and the SQL side works and says the worker is off when not.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron,nps'
cron.database_name = 'postgres'
nps.database = 'postgres'
));
$node->start;

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nps launcher'"),
	'launcher runs when preloaded');
$node->safe_psql('postgres', 'CREATE EXTENSION nps CASCADE');
is($node->safe_psql('postgres', 'SELECT nps.worker_state()'), 'running', 'worker state running');
is($node->safe_psql('postgres', "SHOW nps.database"), 'postgres', 'nps.database GUC');

my ($ret, $out, $err) = $node->psql('postgres', "SET nps.unknown_setting = 1");
like($err, qr/invalid configuration parameter name "nps.unknown_setting"/, 'nps prefix is reserved');

$node->append_conf('postgresql.conf', "nps.enabled = off");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT nps.worker_state() LIKE 'disabled%'"),
	'nps.enabled = off takes effect on reload');
$node->stop;

# Without preload: CREATE EXTENSION works and says the worker is off.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->start;
($ret, $out, $err) = $node->psql('postgres', 'DROP EXTENSION nps; CREATE EXTENSION nps');
is($ret, 0, 'extension created without preload');
like($err, qr/nps is not in shared_preload_libraries: the SMPP worker is off/, 'create says the worker is off');
like($node->safe_psql('postgres', 'SELECT nps.worker_state()'), qr/^not loaded/, 'worker state not loaded');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nps launcher'"),
	'0', 'no launcher without preload');
is($node->safe_psql('postgres', "SELECT nps.normalize_msisdn('8 916 123 45 67')"), '79161234567',
	'SQL functions work without preload');
$node->stop;

done_testing();
