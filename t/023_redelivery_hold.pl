# A reply whose deliver_sm_resp the SMSC never read comes again after a
# crash, on the SMSC's own schedule (here 4 s after the connection went).
# Its subscriber's next question, queued with the reply but not yet claimed
# when PostgreSQL stopped, must not go out first: sent afresh after the
# loss, it would make the redelivery look like a genuine answer to it, and
# the "9" to question 1 would be stored as the answer to question 2.  The
# worker claims nothing for that subscriber until the redelivery has come
# (schema/0.6.0/10_redelivery_hold.sql).  The order is made certain: the
# question becomes claimable before the worker can bind again, and the
# redelivery comes after the bind (the bind follows the drop within the
# worker's 2 s reconnect back-off; the redelivery 4 s after it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $sim = NpsTest::Sim->start('--reply-rate', '0', '--receipt-delay-ms', '20', '--requeue-ms', '4000');
my $node = NpsTest::node('redelivery_hold', 'restart_after_crash = on');
my $msisdn = '79000000001';
# The brakes (NpsTest::survey_with_brakes): storing a reply takes half a
# second while "slow" holds a row, and a queued message waits an hour (it is
# still queued when the server stops).
NpsTest::survey_with_brakes($node, $msisdn, 0.5);
NpsTest::add_bind($node, 'sim', $sim->port);
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 20), 'bound');
$node->safe_psql('postgres', 'SELECT nps.run_due()');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.outbox WHERE state IN ('submitted', 'delivered')", 20),
	'question 1 accepted');
my $code = $node->safe_psql('postgres', 'SELECT source_addr FROM nps.outbox');

# "9" arrives; the SMSC stops reading before its resp; PostgreSQL stops
# (immediate) once the reply is stored, question 2 still queued.  It starts
# again while the SMSC still reads nothing (the new worker cannot bind);
# question 2 is made claimable; then the SMSC drops every connection, the
# reply's resp unread, and reads again.
$node->safe_psql('postgres', 'INSERT INTO slow DEFAULT VALUES');
like($sim->control("mo $msisdn $code 9"), qr/^ok/, 'the subscriber answers 9');
$sim->control('hang on');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox", 20), 'the reply is stored');
$node->safe_psql('postgres', 'DELETE FROM slow');
is($node->safe_psql('postgres', "SELECT state FROM nps.outbox WHERE question_no = 2"), 'queued',
	'question 2 is queued, not claimed');
my $nine = $node->safe_psql('postgres', 'SELECT id FROM nps.inbox');
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', 'UPDATE nps.outbox SET not_before = NULL WHERE question_no = 2');
my $dropped = $sim->control('drop');
like($dropped, qr/^ok dropped [12]$/, "the SMSC drops the connections without reading the resp ($dropped)");
$sim->control('hang off');

ok(NpsTest::wait_for($node, "SELECT count(*) = 2 FROM nps.inbox", 30), 'the reply came again');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.outbox WHERE question_no = 2 AND state IN ('submitted', 'delivered')", 30),
	'question 2 accepted');
my %s = $sim->stats;
cmp_ok($s{redeliveries}, '>=', 1, "the simulator delivered the reply again ($s{redeliveries} redeliveries)");
is($node->safe_psql('postgres', "SELECT status || ' ' || reason FROM nps.inbox WHERE id <> $nine"),
	"duplicate redelivery of reply $nine", 'the redelivery is stored as the duplicate of the reply');
is($node->safe_psql('postgres', 'SELECT string_agg(question_no::text, \',\') FROM nps.answer'), '1',
	'question 1 answered, question 2 not');
is($node->safe_psql('postgres', "SELECT o.submitted_at > i.stored_at FROM nps.outbox o, nps.inbox i "
		  . "WHERE o.question_no = 2 AND i.id <> $nine"), 't',
	'question 2 went out after the redelivery was stored');
is($node->safe_psql('postgres', 'SELECT state || coalesce(question_no::text, \'\') FROM nps.session'), 'active2',
	'the session waits for the answer to question 2');

$node->stop;
$sim->stop;
done_testing();
