# High availability over the whole loop: the primary runs the survey loop
# against the simulator, a streaming standby has nps preloaded (its launcher
# waits for promotion).  Mid-loop the primary stops in immediate mode, the
# standby is promoted and nothing else is pointed anywhere: its launcher
# starts the worker, which resumes the queue where the replicated state
# stopped.  Counted as in t/060: questions lost, replies lost, sent twice.
# Asynchronous replication first: what the old primary sent after the last
# WAL the standby had is sent again, and a reply it stored (and acknowledged)
# after that WAL is lost with it: no SMPP client can get it back, so the
# round asserts that the replies lost are exactly those, counted on the old
# primary started again.  Then synchronous replication
# (synchronous_standby_names): nothing acknowledged is lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NpsTest;
use NpsLoop;

my $window = 50;

sub failover_round
{
	my ($name, $sync, $seed) = @_;
	my $log = PostgreSQL::Test::Utils::tempdir() . "/submits-$name.tsv";
	my $sim = NpsLoop::sim($log);
	my $primary = NpsTest::node("primary_$name", 'wal_level = replica', 'max_wal_senders = 4');
	NpsLoop::prepare($primary, $sim, window_size => $window);
	$primary->backup('b');
	my $standby = PostgreSQL::Test::Cluster->new("standby_$name");
	$standby->init_from_backup($primary, 'b', has_streaming => 1);
	$standby->append_conf('postgresql.conf', "cluster_name = 'standby_$name'\n");
	$standby->start;
	if ($sync)
	{
		$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'standby_$name'\n");
		$primary->reload;
		NpsTest::wait_for($primary,
			"SELECT sync_state = 'sync' FROM pg_stat_replication", 30);
	}
	$primary->wait_for_catchup($standby);

	my $r = NpsLoop::round($primary, $sim, $log, visits => 150, seed => $seed, node_after => $standby,
		fault => sub {
			$primary->stop('immediate');
			$standby->promote;
		});
	NpsLoop::check($r, "failover $name", max_dups => $window,
		not_replicated => $sync ? 0 : not_replicated($primary, $standby));
	is($standby->safe_psql('postgres', "SELECT count(*) FROM nps.smsc_status WHERE state = 'bound'"), '1',
		"failover $name: the promoted standby's worker is bound");
	$standby->stop;
	$sim->stop;
	return $r;
}

# Replies the old primary committed (and so acknowledged to the SMSC) that
# never reached the standby: the old primary is started again, with its
# worker off, and its inbox compared with the promoted standby's as multisets
# of (sender, short code, text): a reply committed but not acknowledged
# before the crash comes again to the standby, so it is not counted.
sub not_replicated
{
	my ($old, $new) = @_;
	$old->append_conf('postgresql.conf', "nps.enabled = off\n");
	$old->start;
	my $q = q{SELECT msisdn || '/' || short_code || '/' || md5(body) FROM nps.inbox WHERE status <> 'duplicate'};
	my %kept;
	$kept{$_}++ for split /\n/, $new->safe_psql('postgres', $q);
	my $gone = grep { --$kept{$_} < 0 } split /\n/, $old->safe_psql('postgres', $q);
	$old->stop;
	diag("replies committed on the old primary, not on the standby: $gone");
	return $gone;
}

failover_round('async', 0, 81);
failover_round('sync', 1, 82);

done_testing();
