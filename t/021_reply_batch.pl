# The worker stores a flush's replies with one nps.store_replies call; when
# that call fails, each reply is stored on its own, so that only the reply
# that fails by itself is refused (ESME_RX_T_APPN: the SMSC delivers it
# again) and none is lost or counted before it is stored.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $sim = NpsTest::Sim->start('--redeliver-ms', '300');
my $node = NpsTest::node('reply_batch', "track_functions = 'pl'");
NpsTest::add_bind($node, 'main', $sim->port);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status WHERE name = 'main'", 10),
	'bind comes up');

# A burst of replies goes in a few calls, none through the one-by-one path.
$sim->control(sprintf('mo 7916100%04d 0650 reply %d', $_, $_)) for 1 .. 40;
ok(NpsTest::wait_for($node, "SELECT count(*) = 40 FROM nps.inbox WHERE smsc_name = 'main'"),
	'40 replies stored');
sleep 2;    # the worker reports its function statistics at most once a second
my ($batches, $single) = split /\|/, $node->safe_psql('postgres',
	"SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'store_replies'), 0), "
	  . "coalesce(sum(calls) FILTER (WHERE funcname = 'receive_from_smsc'), 0) "
	  . "FROM pg_stat_user_functions WHERE schemaname = 'nps'");
cmp_ok($batches, '<', 40, "stored in $batches calls of nps.store_replies");
is($single, '0', 'none one by one');

# A reply the database refuses (here a trigger) spoils its batch: the others
# are stored one by one, the bad one is refused and comes again.
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RAISE EXCEPTION 'poison refused';
	END $$;
	CREATE TRIGGER refuse_poison BEFORE INSERT ON nps.inbox
		FOR EACH ROW WHEN (NEW.body = 'poison') EXECUTE FUNCTION public.refuse_poison();
});
$sim->control(sprintf('mo 7916200%04d 0650 %s', $_, $_ == 10 ? 'poison' : "reply $_")) for 1 .. 20;
ok(NpsTest::wait_for($node, "SELECT count(*) = 19 FROM nps.inbox WHERE msisdn LIKE '7916200%'"),
	'the 19 good replies stored');
ok(NpsTest::wait_for($node, "SELECT received = 59 FROM nps.smsc_status"),
	'received counts the stored replies only');
my %s = $sim->stats;
cmp_ok($s{deliver_errors}, '>', 0, "the poison refused ($s{deliver_errors} deliver_sm_resp with an error)");
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.inbox WHERE body = 'poison'"), '0',
	'the poison is not stored');

# Once the database takes it, its redelivery is stored, once.
$node->safe_psql('postgres', 'DROP TRIGGER refuse_poison ON nps.inbox');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox WHERE body = 'poison'"),
	'the poison stored when it comes again');
ok(NpsTest::wait_for($node, "SELECT received = 60 FROM nps.smsc_status"), 'received: 60');
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.inbox WHERE msisdn LIKE '7916200%'"), '20',
	'20 replies of the second burst, each once');
like(slurp_file($node->logfile), qr/a batch of replies not stored, each is stored on its own instead: poison refused/,
	'the failed batch is logged');

$node->stop;
$sim->stop;
done_testing();
