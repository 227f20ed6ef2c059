# Real time: an alarming answer is announced on channel nps_alert with a JSON
# payload when its transaction commits, not before (and never if it rolls
# back); an escalation is announced the same way.  Then the documented
# listener example (docs/examples/alert_listener.pl, DBD::Pg) receives one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('alerts');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron,nps'
cron.database_name = 'postgres'
nps.database = 'postgres'
nps.enabled = off
timezone = 'Europe/Moscow'
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION nps CASCADE;
SELECT nps.generate_network(1, 2, 1, 1);
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, specialist, external_ref)
SELECT '7916000000' || i, 'S0001', '2026-09-01 12:00+03', 'dealer', 'spec-S0001-1', 'n' || i
FROM generate_series(1, 4) i;
});
my %session;
for my $row (split /\n/, $node->safe_psql('postgres',
	"SELECT v.external_ref, s.id FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id"))
{
	my ($ref, $id) = split /\|/, $row;
	$session{$ref} = $id;
}
is(scalar(keys %session), 4, 'four sessions to answer');

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN nps_alert');
my $writer = $node->background_psql('postgres');

# Notifications psql printed so far, as decoded payloads.
sub received
{
	my $out = $listener->query_safe('SELECT 1');
	return map { JSON::PP->new->decode($_) }
	  ($out =~ /Asynchronous notification "nps_alert" with payload "(.*)" received/g);
}

# Polls until at least one notification arrives (they come with the next query).
sub wait_for_notifications
{
	for (1 .. 100)
	{
		my @got = received();
		return @got if @got;
		usleep(100_000);
	}
	return ();
}

$writer->query_safe('BEGIN');
$writer->query_safe("INSERT INTO nps.answer (session_id, question_no, score, body, answered_at) "
	  . "VALUES ($session{n1}, 1, 2, '2', '2026-10-01 10:00+03'), "
	  . "($session{n1}, 2, NULL, 'Мне нахамили и обманули', '2026-10-01 10:01+03')");
is(scalar(received()), 0, 'nothing announced before commit');
is($node->safe_psql('postgres', 'SELECT count(*) FROM nps.alert'), '0', 'and nothing visible');
$writer->query_safe('COMMIT');

my @got = wait_for_notifications();
is(scalar(@got), 1, 'one announcement at commit for one session');
my $a = $got[0];
is($a->{event}, 'raised', 'event raised');
is($a->{session_id}, $session{n1}, 'session_id');
is($a->{salon_code}, 'S0001', 'salon_code');
is($a->{severity}, 4, 'severity critical (detractor + rudeness + deception)');
is($a->{level}, 2, 'level: salon manager');
is($a->{assignee}, 'mgr-S0001', 'assignee from nps.hierarchy');
is_deeply($a->{reasons}, ['q1 = 2: detractor', 'q2: alarming comment (deception, rudeness)'], 'reasons');
is($a->{due_at}, '2026-10-01T11:01:00+03:00', 'due in one hour (critical, salon level)');
like($a->{id}, qr/^\d+$/, 'alert id');

# A rolled-back answer announces nothing.
$writer->query_safe('BEGIN');
$writer->query_safe("INSERT INTO nps.answer (session_id, question_no, score, body) VALUES ($session{n2}, 5, 1, 'да')");
$writer->query_safe('ROLLBACK');
usleep(300_000);
is(scalar(received()), 0, 'rollback: nothing announced');

# A later answer of the same session updates the one alert and says so.
$writer->query_safe("INSERT INTO nps.answer (session_id, question_no, score, body, answered_at) "
	  . "VALUES ($session{n1}, 5, 1, 'да', '2026-10-01 10:02+03')");
@got = wait_for_notifications();
is(scalar(@got), 1, 'update announced');
is($got[0]{event}, 'updated', 'event updated');
is($got[0]{id}, $a->{id}, 'same alert');
is(scalar(@{ $got[0]{reasons} }), 3, 'reason appended');

# Escalation: announced at the commit of the run that made it.
$writer->query_safe('BEGIN');
is($writer->query_safe("SELECT nps.escalate('2026-10-01 11:01+03')"), '1', 'one alert escalated');
is(scalar(received()), 0, 'escalation not announced before commit');
$writer->query_safe('COMMIT');
@got = wait_for_notifications();
is(scalar(@got), 1, 'escalation announced');
is($got[0]{event}, 'escalated', 'event escalated');
is($got[0]{level}, 3, 'now at the dealer level');
is($got[0]{assignee}, 'dealer-D001', "the dealer's contact");

$listener->quit;
$writer->quit;

# The listener example from the docs.
SKIP:
{
	skip 'DBD::Pg is not installed (apt-get install libdbd-pg-perl)', 3
	  unless eval { require DBD::Pg; 1 };
	my $example = ($ENV{NPS_ROOT} // '.') . '/docs/examples/alert_listener.pl';
	my ($out, $err) = ('', '');
	my $dsn = sprintf('dbi:Pg:dbname=postgres;host=%s;port=%d', $node->host, $node->port);
	my $h = IPC::Run::start([ $^X, $example, '--dsn', $dsn, '--assignee', 'mgr-S0001', '--count', '1' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	$h->pump until $out =~ /listening on nps_alert/;
	ok(1, 'example listens');
	$node->safe_psql('postgres', "INSERT INTO nps.answer (session_id, question_no, score, body, answered_at) "
		  . "VALUES ($session{n3}, 2, NULL, 'Мошенники!', '2026-10-01 12:00+03')");
	$h->finish;
	is($h->full_result(0), 0, 'example exits after one alert');
	like($out, qr/^raised alert \d+, salon S0001, severity 4, level 2 \(mgr-S0001\), due 2026-10-01T13:00:00\+03:00: q2: alarming comment \(fraud\)$/m,
		'example prints the alert') or diag("stdout: $out\nstderr: $err");
}

$node->stop;
done_testing();
