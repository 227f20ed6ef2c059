# A visit load that supersedes an older pending session, while nps.run_due()
# starts that very session in another transaction: the scheduling trigger
# (src/schedule.c) saw it pending, but the started session must not be
# cancelled under the customer (the cancellation rechecks the state of the
# row it finally updates).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $node = NpsTest::node('schedule_race', 'nps.enabled = off');
$node->safe_psql('postgres', q{
SELECT nps.generate_network(1, 2, 1, 1);
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
SELECT '79160000001', min(code), '2026-09-01 12:00+03', 'old' FROM nps.salon;
});
my $state = sub {
	my ($ref) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT s.state || coalesce(' (' || s.state_reason || ')', '')
		FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = '$ref'});
};
is($state->('old'), 'scheduled', 'the first visit is scheduled');

# The starter: the session goes active, not yet committed.
my $starter = $node->background_psql('postgres');
$starter->query_safe(q{
	BEGIN;
	UPDATE nps.session SET state = 'active', short_code = '0650', question_no = 1,
	       started_at = '2026-09-25 12:00+03', asked_at = '2026-09-25 12:00+03'
	WHERE visit_id = (SELECT id FROM nps.visit WHERE external_ref = 'old');
});

# The loader: a newer visit of the same subscriber, within the fatigue period;
# its trigger decides the older session loses and waits for the starter's lock.
my $loader = $node->background_psql('postgres');
$loader->query_until(qr/loading/, q{
	\echo loading
	INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
	SELECT '79160000001', min(code), '2026-09-10 12:00+03', 'new' FROM nps.salon;
});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO nps.visit%'}),
	'the load waits for the session being started');

$starter->query_safe('COMMIT');
$loader->query_safe('SELECT 1');
is($state->('old'), 'active', 'the started session is not cancelled by the load that saw it pending');
is($state->('new'), 'scheduled', 'the newer visit is scheduled');

$starter->quit;
$loader->quit;
$node->stop;
done_testing();
