# The SMSC read the resp of a reply ("9" to question 1) and the worker then
# claimed and wrote question 2, but PostgreSQL stopped before the SMSC read
# that submit_sm.  After the restart question 2 goes out again, and the
# subscriber answers it with "9" too.  Before 0.8.0 the worker could not
# know after the crash that the SMSC had read the first resp: the first "9"
# was a candidate for redelivery and the genuine answer to question 2 was
# stored as its duplicate, lost to the dialogue (docs/reliability.md).  Now
# a message is claimed only once its subscriber's replies are known read,
# and the claim records that first (nps.smsc_watermark), so after the
# restart the first "9" is no candidate; while the mark cannot be recorded
# nothing is claimed.  The order is made certain: the simulator stops
# reading ("hang") at each step, and question 2 is held back (not_before)
# until the step wants it claimed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $sim = NpsTest::Sim->start('--reply-rate', '0', '--receipt-delay-ms', '20');
my $node = NpsTest::node('redelivery_mark', 'restart_after_crash = on');
my $msisdn = '79000000001';
# The brakes (NpsTest::survey_with_brakes): storing a reply takes two
# seconds while "slow" holds a row, and a queued message waits an hour.
NpsTest::survey_with_brakes($node, $msisdn, 2);
# the worker waits for its enquire_link longer than the steps below keep
# the simulator hung (else it would drop the connection itself)
NpsTest::add_bind($node, 'sim', $sim->port, response_timeout => '20 seconds');
ok(NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 20), 'bound');
$node->safe_psql('postgres', 'SELECT nps.run_due()');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.outbox WHERE state IN ('submitted', 'delivered')", 20),
	'question 1 accepted');
my $code = $node->safe_psql('postgres', 'SELECT source_addr FROM nps.outbox');
my $q2 = "SELECT state FROM nps.outbox WHERE question_no = 2";

# 1. "9" arrives; the SMSC stops reading before its resp.  Question 2 is
# made claimable: it must wait, the resp unread (before 0.8.0 it went at
# the next claim).
$node->safe_psql('postgres', 'INSERT INTO slow DEFAULT VALUES');
like($sim->control("mo $msisdn $code 9"), qr/^ok/, 'the subscriber answers 9 to question 1');
$sim->control('hang on');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.inbox", 20), 'the reply is stored');
my $nine = $node->safe_psql('postgres', 'SELECT id FROM nps.inbox');
$node->safe_psql('postgres', 'DELETE FROM slow');
$node->safe_psql('postgres', 'UPDATE nps.outbox SET not_before = NULL WHERE question_no = 2');
# A generic_nack with a sequence number the worker never used proves
# nothing about what the SMSC read (before 0.8.0's fix it "confirmed" the
# reply, as if it answered a request written after the resp).
like($sim->control('nack 1000000'), qr/^ok sent 1$/, 'the SMSC sends a stray generic_nack');
# three claims at least (the worker polls every second)
sleep 3;
is($node->safe_psql('postgres', $q2), 'queued', 'question 2 is not claimed while the resp of 9 is unread');
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.smsc_watermark WHERE inbox_id >= $nine"), '0',
	'the recorded mark is below the reply');

# 2. The SMSC reads again (the resp and the worker's enquire_link behind
# it), but the mark cannot be recorded: a trigger refuses it (counting the
# tries in a sequence, which a rollback does not undo).  The claim's
# transaction fails and is retried; question 2, claimable, still waits.
$node->safe_psql('postgres', q{
	CREATE TABLE refuse_mark ();
	CREATE SEQUENCE mark_tries;
	CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    IF EXISTS (SELECT FROM refuse_mark) THEN
	        PERFORM nextval('mark_tries');
	        RAISE EXCEPTION 'the test refuses the mark';
	    END IF;
	    RETURN NEW;
	END $$;
	CREATE TRIGGER refuse_mark BEFORE INSERT OR UPDATE ON nps.smsc_watermark
	    FOR EACH ROW EXECUTE FUNCTION refuse_mark();
	INSERT INTO refuse_mark DEFAULT VALUES;
});
$sim->control('hang off');
ok(NpsTest::wait_for($node, "SELECT is_called FROM mark_tries", 20),
	'the SMSC read the resp: the worker tries to record the mark');
sleep 3;
is($node->safe_psql('postgres', $q2), 'queued', 'question 2 waits while the mark cannot be recorded');
cmp_ok($node->safe_psql('postgres', 'SELECT last_value FROM mark_tries'), '>=', 2,
	'the claim is retried, the mark with it');

# 3. The SMSC stops reading; the mark may be recorded again: the retried
# transaction records it and claims question 2, which is written unread.
# PostgreSQL stops at once; the SMSC drops the connection (question 2's
# submit_sm unread) and reads again.
$sim->control('hang on');
$node->safe_psql('postgres', 'DELETE FROM refuse_mark');
ok(NpsTest::wait_for($node, "SELECT state = 'sending' FROM nps.outbox WHERE question_no = 2", 20),
	'question 2 claimed and written, the SMSC not reading');
is($node->safe_psql('postgres', "SELECT count(*) FROM nps.smsc_watermark WHERE smsc_name = 'sim' AND inbox_id >= $nine"),
	'1', 'the mark recorded with the claim passes the reply');
$node->stop('immediate');
$node->start;
my $dropped = $sim->control('drop');
like($dropped, qr/^ok dropped [12]$/, "the SMSC drops the connections ($dropped)");
$sim->control('hang off');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.outbox WHERE question_no = 2 AND state IN ('submitted', 'delivered')", 30),
	'question 2 sent again and accepted');
my %s = $sim->stats;
is($s{redeliveries}, 0, 'the simulator redelivered nothing (it had read the resp)');

# 4. The genuine answer to question 2 is "9" again: an answer, no duplicate.
like($sim->control("mo $msisdn $code 9"), qr/^ok/, 'the subscriber answers 9 to question 2');
ok(NpsTest::wait_for($node, "SELECT count(*) = 2 FROM nps.inbox", 20), 'the second reply is stored');
is($node->safe_psql('postgres', "SELECT status || coalesce(' ' || reason, '') FROM nps.inbox WHERE id <> $nine"),
	'answered', 'the second 9 is an answer, not a redelivery');
is($node->safe_psql('postgres', "SELECT string_agg(question_no || '=' || body, ',' ORDER BY question_no) FROM nps.answer"),
	'1=9,2=9', 'questions 1 and 2 answered');
ok(NpsTest::wait_for($node, "SELECT count(*) = 1 FROM nps.outbox WHERE question_no = 3", 20),
	'question 3 is queued');

$node->stop;
$sim->stop;
done_testing();
