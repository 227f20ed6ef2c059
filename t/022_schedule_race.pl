# "Latest visit wins" against nps.run_due() in another transaction.  Since
# 0.7.0 a visit load never updates an older session of the subscriber: the
# older session is cancelled as superseded when it comes due.  So a load of a
# newer visit neither waits for nor touches a session that nps.run_due() is
# starting, and a run_due() that cannot yet see a newer visit being loaded
# starts the older session; either way the subscriber gets one survey, the
# newer session being cancelled at its due time as surveyed recently.
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
SELECT m, min(code), '2026-09-01 12:00+03', 'old-' || m FROM nps.salon, (VALUES ('79160000001'), ('79160000002')) x(m)
GROUP BY m;
});
my $state = sub {
	my ($ref) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT s.state || coalesce(' (' || regexp_replace(s.state_reason, '[0-9]+', 'N') || ')', '')
		FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = '$ref'});
};
my $due = sub {
	my ($ref) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT s.due_at FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = '$ref'});
};
my $new_visit = q{
	INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
	SELECT '%s', min(code), '2026-09-10 12:00+03', 'new-%s' FROM nps.salon;
};

# 1. run_due() starts the older session and has not committed; a newer visit
#    of the subscriber is loaded meanwhile.  Waiting for a lock would fail
#    the load (lock_timeout) instead of hanging the test.
my $old1 = $due->('old-79160000001');
my $starter = $node->background_psql('postgres', on_error_stop => 0);
$starter->query_safe("BEGIN; SELECT nps.run_due('$old1');");
my $loader = $node->background_psql('postgres', on_error_stop => 0);
$loader->query_safe("SET lock_timeout = '5s'");
my ($out, $ret) = $loader->query(sprintf($new_visit, '79160000001', '79160000001'));
is($ret, 0, 'the load of a newer visit does not wait for the session being started');
$starter->query_safe('COMMIT');
is($state->('old-79160000001'), 'active', 'the started session is left alone by the load');
is($state->('new-79160000001'), 'scheduled', 'the newer visit is scheduled');
$node->safe_psql('postgres', "SELECT nps.run_due('" . $due->('new-79160000001') . "')");
is($state->('new-79160000001'), 'cancelled (surveyed recently: session N)',
	'at its due time the newer session yields to the survey under way: one survey');

# 2. The newer visit is being loaded, not yet committed, when the older
#    session comes due: run_due() cannot see it, does not wait for it, and
#    starts the older session.
$loader->query_safe('BEGIN');
$loader->query_safe(sprintf($new_visit, '79160000002', '79160000002'));
$starter->query_safe("SET lock_timeout = '5s'");
($out, $ret) = $starter->query("SELECT nps.run_due('" . $due->('old-79160000002') . "')");
is($ret, 0, 'run_due does not wait for the load under way');
is($state->('old-79160000002'), 'active', 'the older session starts: the newer visit is not visible yet');
$loader->query_safe('COMMIT');
$node->safe_psql('postgres', "SELECT nps.run_due('" . $due->('new-79160000002') . "')");
is($state->('new-79160000002'), 'cancelled (surveyed recently: session N)',
	'the newer session yields at its due time: one survey');

$starter->quit;
$loader->quit;
$node->stop;
done_testing();
