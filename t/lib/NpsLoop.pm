# NpsLoop: the whole survey loop under faults, counted (t/060.., t/070).
#
#   my $sim  = NpsLoop::sim($log);                 # subscribers answer everything
#   my $node = NpsTest::node('x');  NpsLoop::prepare($node, $sim, window_size => 10);
#   my $r = NpsLoop::round($node, $sim, $log, visits => 150, seed => 7,
#       fault => sub { ... inject, wait, remove ... });
#   NpsLoop::check($r, 'drop', max_dups => 10);    # lost questions/replies = 0
#
# A round marks where the database and the simulator's log stand, loads
# visits dated 24+ days ago, starts them with nps.run_due(), runs the fault
# once some questions are out, waits until the loop settles (nothing queued
# or sending, no session active, the simulator has nothing left to deliver)
# and counts:
#   questions lost  = outbox rows never accepted (queued/sending/failed)
#                   + sessions left unfinished
#                   + accepted outbox rows the simulator's log does not hold
#   replies lost    = subscriber messages the simulator created (mo_messages)
#                     minus the inbox rows stored for them
#   stored twice    = inbox rows taken as replies (status other than
#                     'duplicate': a recognised redelivery is kept with that
#                     status, out of the dialogue) minus those messages
#   sent twice      = log lines (accepted submit_sm) repeating an earlier
#                     (dest, source, text, part) of the round
package NpsLoop;

use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NpsTest;

# The simulator as a subscriber base that answers every question (no STOP,
# no garbage) within 50-300 ms, logging every submit_sm.
sub sim
{
	my ($log, @extra) = @_;
	return NpsTest::Sim->start('--log', $log, '--reply-rate', '1', '--stop-rate', '0',
		'--garbage-rate', '0', '--reply-min-ms', '50', '--reply-max-ms', '300',
		'--receipt-delay-ms', '20', '--redeliver-ms', '500', @extra);
}

# A small network sending around the clock, and a bind to the simulator.
sub prepare
{
	my ($node, $sim, %bind) = @_;
	$node->safe_psql('postgres', q{
		SELECT nps.generate_network(2026, p_dealers => 4, p_salons => 12);
		UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59';
	});
	NpsTest::add_bind($node, 'sim', $sim->port, %bind);
	NpsTest::wait_for($node, "SELECT state = 'bound' FROM nps.smsc_status", 20)
	  or BAIL_OUT('the bind did not come up');
}

sub _one { my ($node, $sql) = @_; return $node->safe_psql('postgres', $sql); }

sub _log_lines
{
	my ($log) = @_;
	return () unless -e $log;
	return split /\n/, slurp_file($log);
}

# Where the database, the simulator and its log stand now.
sub mark
{
	my ($node, $sim, $log) = @_;
	my ($s, $o, $i) = split /\|/, _one($node,
		"SELECT concat_ws('|', (SELECT coalesce(max(id), 0) FROM nps.session), "
		  . "(SELECT coalesce(max(id), 0) FROM nps.outbox), (SELECT coalesce(max(id), 0) FROM nps.inbox))");
	return { session => $s, outbox => $o, inbox => $i, stats => { $sim->stats },
		lines => scalar(my @l = _log_lines($log)) };
}

# Waits until the loop is quiet: every session of the round finished, no
# message queued or sending, the simulator holds no reply or receipt.
sub settle
{
	my ($node, $sim, $m, $timeout) = @_;
	$timeout //= 60;
	my $deadline = time + $timeout;
	my $quiet = 0;
	while (time < $deadline)
	{
		my $db = eval { _one($node,
			"SELECT NOT EXISTS (SELECT FROM nps.outbox WHERE id > $m->{outbox} AND state IN ('queued', 'sending')) "
			  . "AND NOT EXISTS (SELECT FROM nps.session WHERE id > $m->{session} AND state IN ('active', 'scheduled', 'deferred'))") }
		  // 'f';
		my %st = $sim->stats;
		my $simq = ($st{queued} // 0) + ($st{inflight} // 0) + ($st{pending} // 0);
		$quiet = ($db eq 't' && $simq == 0) ? $quiet + 1 : 0;
		return 1 if $quiet >= 5;
		usleep(200_000);
	}
	diag('the loop did not settle: ' . _one($node,
		"SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM nps.session WHERE id > $m->{session} GROUP BY 1) x")
		  . ' / outbox: ' . _one($node,
		"SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM nps.outbox WHERE id > $m->{outbox} GROUP BY 1) x"));
	diag('simulator: ' . $sim->control('stats'));
	return 0;
}

# The round's inbox and outbox rows of the subscribers $who (a query
# returning msisdn), in time order, one line each.
sub _rows_of
{
	my ($node, $m, $who) = @_;
	return _one($node, "WITH who AS ($who) SELECT string_agg(line, E'\\n' ORDER BY msisdn, at) FROM ("
		  . "SELECT i.msisdn, i.stored_at AS at, concat_ws(' ', 'inbox', i.id, i.msisdn, i.short_code, "
		  . "quote_literal(i.body), i.status, i.reason, 'received', i.received_at, 'stored', i.stored_at) AS line "
		  . "FROM nps.inbox i WHERE i.id > $m->{inbox} AND i.msisdn IN (SELECT msisdn FROM who) UNION ALL "
		  . "SELECT o.msisdn, o.queued_at, concat_ws(' ', 'outbox', o.id, o.msisdn, o.source_addr, o.state, "
		  . "'attempts', o.attempts, 'queued', o.queued_at, 'sent', o.sent_at, 'submitted', o.submitted_at) "
		  . "FROM nps.outbox o WHERE o.id > $m->{outbox} AND o.msisdn IN (SELECT msisdn FROM who)) x");
}

# Loads visits, starts them, runs the fault, settles and counts.
sub round
{
	my ($node, $sim, $log, %o) = @_;
	my $m = mark($node, $sim, $log);
	my $visits = $o{visits} // 150;
	my $seed = $o{seed} // 1;
	_one($node, "SELECT nps.generate_visits($visits, now() - interval '25 days', "
		  . "now() - interval '24 days 1 hour', $seed, 100000000)");
	my $started = _one($node, 'SELECT nps.run_due()');
	my $t0 = time;
	if ($o{fault})
	{
		# mid-flight: a good part of the first questions accepted
		my $at = $o{fault_after} // int($started / 3);
		NpsTest::wait_for($node, "SELECT count(*) >= $at FROM nps.outbox WHERE id > $m->{outbox} "
			  . "AND state IN ('submitted', 'delivered')", 60);
		$o{fault}->($m);
	}
	my $settled = settle($o{node_after} // $node, $sim, $m, $o{settle_timeout});
	my $r = count($o{node_after} // $node, $sim, $log, $m);
	$r->{started} = $started;
	$r->{settled} = $settled;
	$r->{seconds} = sprintf('%.1f', time - $t0);
	return $r;
}

# The counts of a round (see the top of the file).
sub count
{
	my ($node, $sim, $log, $m) = @_;
	my %r;
	my %now = $sim->stats;
	my %d = map { $_ => ($now{$_} // 0) - ($m->{stats}{$_} // 0) } keys %now;

	$r{unsent} = _one($node, "SELECT count(*) FROM nps.outbox WHERE id > $m->{outbox} "
		  . "AND state NOT IN ('submitted', 'delivered')");
	$r{stuck} = _one($node, "SELECT count(*) FROM nps.session WHERE id > $m->{session} "
		  . "AND state NOT IN ('completed', 'cancelled')");
	$r{completed} = _one($node, "SELECT count(*) FROM nps.session WHERE id > $m->{session} AND state = 'completed'");
	$r{questions} = _one($node, "SELECT count(*) FROM nps.outbox WHERE id > $m->{outbox}");

	# The round's accepted submit_sm, reassembled into messages (a part
	# buffer is emptied when its message is complete: 8-bit references wrap).
	my (%parts, %seen_part, %received);
	my @lines = _log_lines($log);
	$r{dups} = 0;
	for my $line (@lines[ $m->{lines} .. $#lines ])
	{
		my ($ms, $sys, $seq, $msgid, $src, $dst, $dc, $esm, $ref, $part, $total, $text) = split /\t/, $line, 12;
		next if !defined $text || $msgid eq '-';
		$text =~ s/\\(.)/$1 eq 't' ? "\t" : $1 eq 'n' ? "\n" : $1 eq 'r' ? "\r" : $1/ge;
		$r{dups}++ if $seen_part{"$dst\t$src\t$part\t$text"}++;
		my $buf = $parts{"$dst\t$src\t$ref\t$total"} //= {};
		$buf->{$part} = $text;
		next if keys %$buf < $total;
		$received{ join("\t", $dst, $src, join('', map { $buf->{$_} } 1 .. $total)) } = 1;
		delete $parts{"$dst\t$src\t$ref\t$total"};
	}
	my @sent = split /\n/, _one($node,
		"SELECT msisdn || E'\\t' || source_addr || E'\\t' || replace(body, E'\\n', ' ') FROM nps.outbox "
		  . "WHERE id > $m->{outbox} AND state IN ('submitted', 'delivered')");
	$r{not_received} = grep { !$received{$_} } @sent;
	$r{questions_lost} = $r{unsent} + $r{stuck} + $r{not_received};

	$r{mo} = $d{mo_messages};
	$r{inbox} = _one($node, "SELECT count(*) FROM nps.inbox WHERE id > $m->{inbox}");
	$r{inbox_dups} = _one($node, "SELECT count(*) FROM nps.inbox WHERE id > $m->{inbox} AND status = 'duplicate'");
	$r{replies} = $r{inbox} - $r{inbox_dups};
	# net figures: a reply stored twice would hide one lost, so both are shown
	# (a lost reply also leaves its session unfinished: questions lost)
	$r{replies_lost} = $r{mo} > $r{inbox} ? $r{mo} - $r{inbox} : 0;
	$r{replies_twice} = $r{replies} > $r{mo} ? $r{replies} - $r{mo} : 0;
	# what a failure needs to be understood: the rows of the subscribers concerned
	$r{twice_detail} = _rows_of($node, $m, "SELECT msisdn FROM nps.inbox WHERE id > $m->{inbox} "
		  . "GROUP BY msisdn, short_code, body HAVING count(*) > 1");
	$r{stuck_detail} = _rows_of($node, $m, "SELECT msisdn FROM nps.session WHERE id > $m->{session} "
		  . "AND state NOT IN ('completed', 'cancelled')");
	$r{late} = _one($node, "SELECT count(*) FROM nps.inbox WHERE id > $m->{inbox} AND status <> 'answered'");
	$r{worker_dups} = _one($node, 'SELECT duplicates FROM nps.smsc_status');
	$r{redeliveries} = $d{redeliveries};
	$r{deliver_timeouts} = $d{deliver_timeouts};
	$r{sim_duplicates} = $d{duplicates};
	$r{mo_acked} = $d{mo_acked};
	$r{mo_sent} = $d{mo_sent};
	return \%r;
}

# The assertions every scenario makes, and the figures as a diag line.
# known => 'defect …' marks the loss/duplicate assertions TODO: they still run
# and print their counts, and turn into passes once the defect is fixed
# (docs/reliability.md lists the defects).
sub check
{
	my ($r, $name, %o) = @_;
	my $b = Test::More->builder;
	# not_replicated: replies the old primary of an asynchronous failover
	# committed and acknowledged but never streamed (lost by the replication
	# itself, not by nps); each can leave its session waiting for it
	my $gone = $o{not_replicated} // 0;
	$b->todo_start($o{known}) if $o{known};
	ok($r->{settled} || $gone > 0, "$name: the loop settles ($r->{seconds} s)");
	cmp_ok($r->{started}, '>', 0, "$name: sessions started ($r->{started})");
	cmp_ok($r->{questions_lost}, '<=', $gone, "$name: questions lost $r->{questions_lost} <= $gone "
		  . "(unsent $r->{unsent}, sessions unfinished $r->{stuck}, never received $r->{not_received})");
	is($r->{replies_lost}, $gone, "$name: replies lost $r->{replies_lost} = $gone not replicated "
		  . "(subscriber messages $r->{mo}, stored $r->{inbox})");
	is($r->{replies_twice}, 0, "$name: replies stored twice 0 (taken as replies $r->{replies}, "
		  . "redeliveries stored as duplicates $r->{inbox_dups}, inbox rows not answers: $r->{late})");
	cmp_ok($r->{sim_duplicates}, '<=', $o{max_dups} // 0,
		"$name: messages sent twice $r->{sim_duplicates} <= " . ($o{max_dups} // 0) . " (parts $r->{dups})");
	diag("replies stored twice, the rows of their subscribers:\n$r->{twice_detail}") if $r->{replies_twice} > 0;
	diag("sessions unfinished, the rows of their subscribers:\n$r->{stuck_detail}") if $r->{stuck} > 0;
	$b->todo_end if $o{known};
	diag(sprintf('%-16s sessions %d completed %d messages %d replies %d | questions lost %d, replies lost %d, '
		  . 'replies stored twice %d, sent twice %d messages (%d parts), sim redeliveries %d '
		  . '(%d after a deliver_sm_resp timeout), duplicates stored %d',
		$name, $r->{started}, $r->{completed}, $r->{questions}, $r->{replies}, $r->{questions_lost},
		$r->{replies_lost}, $r->{replies_twice}, $r->{sim_duplicates}, $r->{dups}, $r->{redeliveries},
		$r->{deliver_timeouts}, $r->{inbox_dups}));
}

1;
