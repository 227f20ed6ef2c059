# nps.schedule_jobs() when pg_cron lives in another database than nps: the
# jobs are registered there (through dblink), run in the nps database, once
# each however often the function is called, and pg_cron actually runs them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('survey_cron');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron,nps'
cron.database_name = 'postgres'
nps.database = 'npsdb'
nps.enabled = off
cron.host = '@{[ $node->host ]}'
));
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE npsdb');
$node->safe_psql('npsdb', 'SET client_min_messages = warning; CREATE EXTENSION nps CASCADE');

# Every row of nps.job (run_due, expire, and the jobs of alerts and analytics).
my $jobs = $node->safe_psql('npsdb', 'SELECT count(*) FROM nps.job');
my $names = $node->safe_psql('npsdb',
	"SELECT string_agg(name || ' ' || schedule || ' npsdb', ', ' ORDER BY name) FROM nps.job");
ok($jobs >= 2, "$jobs jobs defined");
is($node->safe_psql('npsdb', 'SELECT nps.schedule_jobs()'), $jobs, 'every job registered');
is($node->safe_psql('npsdb', 'SELECT nps.schedule_jobs()'), $jobs, 'second call registers nothing new');
is($node->safe_psql('postgres',
	"SELECT string_agg(jobname || ' ' || schedule || ' ' || database, ', ' ORDER BY jobname) FROM cron.job"),
	$names, 'one job each, in the cron database, running in the nps database');

# A changed schedule is updated in place.
$node->safe_psql('npsdb', "UPDATE nps.job SET schedule = '*/2 * * * *' WHERE name = 'nps-expire'");
$node->safe_psql('npsdb', 'SELECT nps.schedule_jobs()');
is($node->safe_psql('postgres', "SELECT count(*) || ' ' || max(schedule) FILTER (WHERE jobname = 'nps-expire') FROM cron.job"),
	"$jobs */2 * * * *", 'schedule updated, still one row per job');

# pg_cron (connecting over the node's socket) runs nps.run_due() in npsdb
# within a minute or so.
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	 WHERE j.jobname = 'nps-run-due' AND d.status = 'succeeded'"),
	'pg_cron ran nps-run-due successfully');
$node->stop;

done_testing();
