# The alert trigger caches the active rules and lexicon per session (in C,
# src/alert_filter.c).  An edit committed by another session must reach a
# session whose cache is already warm, at its next statement; an edit rolled
# back must not.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;

my $node = NpsTest::node('alert_cache', 'nps.enabled = off');
$node->safe_psql('postgres', q{
SELECT nps.generate_network(1, 2, 1, 1);
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, specialist, external_ref)
SELECT '7916000000' || i, 'S0001', '2026-09-01 12:00+03', 'dealer', 'spec-S0001-1', 'n' || i
FROM generate_series(1, 6) i;
});

# The writer answers for visit n<i> with a comment or a score.
my $writer = $node->background_psql('postgres');
sub answer
{
	my ($ref, $q, $score, $body) = @_;
	$writer->query_safe(qq{
		INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
		SELECT s.id, $q, $score, '$body', '2026-09-01 13:00+03'
		FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = '$ref'});
}
sub alert_of
{
	my ($ref) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce((SELECT a.severity || ' ' || array_to_string(a.reasons, '; ') FROM nps.alert a
		                 JOIN nps.session s ON s.id = a.session_id JOIN nps.visit v ON v.id = s.visit_id
		                 WHERE v.external_ref = '$ref'), 'none')});
}

# Warm the writer's cache: a comment that no term matches.
answer('n1', 2, 'NULL', 'Сим-карту заблокировали без причины');
is(alert_of('n1'), 'none', 'a comment no term matches raises nothing');

# Another session adds a term: the writer's next comment is judged with it.
$node->safe_psql('postgres', q{
	INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('заблокировали:*', 5, 'blocked')});
answer('n2', 2, 'NULL', 'Сим-карту заблокировали без причины');
is(alert_of('n2'), '3 q2: alarming comment (blocked)', 'a term added by another session works at once');

# ... and switched off again, it no longer alarms.
$node->safe_psql('postgres', q{UPDATE nps.alert_lexicon SET active = false WHERE term = 'заблокировали:*'});
answer('n3', 2, 'NULL', 'Сим-карту заблокировали без причины');
is(alert_of('n3'), 'none', 'a term switched off by another session no longer alarms');

# A rule switched off elsewhere: a detractor no longer alarms; switched off
# in a transaction that rolls back, it still does.
$node->safe_psql('postgres', q{
	BEGIN; UPDATE nps.alert_rule SET active = false WHERE reason = 'detractor'; ROLLBACK;});
answer('n4', 1, 3, '3');
is(alert_of('n4'), '2 q1 = 3: detractor', 'a rule change rolled back elsewhere changes nothing');
$node->safe_psql('postgres', q{UPDATE nps.alert_rule SET active = false WHERE reason = 'detractor'});
answer('n5', 1, 3, '3');
is(alert_of('n5'), 'none', 'a rule switched off by another session stops alarming');
$node->safe_psql('postgres', q{
	INSERT INTO nps.alert_rule (question_no, min_score, max_score, severity, reason) VALUES (3, 1, 2, 1, 'specialist rated poorly')});
answer('n6', 3, 1, '1');
is(alert_of('n6'), '1 q3 = 1: specialist rated poorly', 'a rule added by another session works at once');

$writer->quit;
$node->stop;
done_testing();
