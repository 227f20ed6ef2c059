# NpsTest: shared helpers of the nps TAP tests (worker, simulator, faults).
#
#   my $node = NpsTest::node('name', 'extra conf line', ...);   # preloaded, extension created
#   my $sim  = NpsTest::Sim->start('--id-format', 'dec', ...);  # nps-smsc-sim on free ports
#   $sim->control('throttle 5');  my %s = $sim->stats;  $sim->stop;  $sim->restart;
#   NpsTest::add_bind($node, 'main', $sim->port, window_size => 10);
#   NpsTest::wait_for($node, "SELECT ...");                       # polls until true
#   NpsTest::survey_with_brakes($node, '79000000001', 0.5);      # a race made certain
package NpsTest;

use strict;
use warnings;
use IO::Socket::INET;
use IPC::Run;
use List::Util;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our $ROOT = $ENV{NPS_ROOT} // '.';

# A started node with nps preloaded, serving database postgres, extension
# created.  An optional hash reference first is passed to init
# (e.g. { allows_streaming => 1 }).
sub node
{
	my $init = ref $_[0] eq 'HASH' ? shift : {};
	my ($name, @conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%$init);
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'pg_cron,nps'",
		"cron.database_name = 'postgres'",
		"nps.database = 'postgres'",
		"log_min_messages = log",
		@conf) . "\n");
	$node->start;
	$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION nps CASCADE');
	return $node;
}

# Inserts a bind into nps.smsc; extra columns as key => value (SQL literals quoted here).
sub add_bind
{
	my ($node, $name, $port, %cols) = @_;
	my %row = (name => $name, host => '127.0.0.1', port => $port, system_id => 'nps',
		password => 'secret', response_timeout => '2 seconds', reconnect_min => '200 ms',
		reconnect_max => '2 seconds', %cols);
	my @k = sort keys %row;
	my $sql = sprintf('INSERT INTO nps.smsc (%s) VALUES (%s)', join(', ', @k),
		join(', ', map { "'" . ($row{$_} =~ s/'/''/gr) . "'" } @k));
	$node->safe_psql('postgres', $sql);
}

# Polls a boolean query until it is true; returns whether it became true.
sub wait_for
{
	my ($node, $query, $timeout) = @_;
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		my $r = $node->safe_psql('postgres', $query);
		return 1 if $r eq 't';
		usleep(50_000);
	}
	diag("timed out waiting for: $query");
	diag($node->safe_psql('postgres', 'SELECT * FROM nps.smsc_status'));
	return 0;
}

# One survey of $msisdn, due at once, with two brakes a test uses to order
# a race (t/023, t/024): while table "slow" holds a row, storing a reply
# takes $store_seconds (time to stop the simulator reading before its resp
# goes out), and a message queued may not be claimed for an hour.
sub survey_with_brakes
{
	my ($node, $msisdn, $store_seconds) = @_;
	$node->safe_psql('postgres', qq{
		SELECT nps.generate_network(2026, p_dealers => 1, p_salons => 1);
		UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59';
		INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
		SELECT '$msisdn', code, now() - interval '25 days', 'v1' FROM nps.salon LIMIT 1;
		CREATE TABLE slow ();
		CREATE FUNCTION slow_store() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN PERFORM pg_sleep($store_seconds) FROM slow; RETURN NULL; END \$\$;
		CREATE TRIGGER slow_store AFTER INSERT ON nps.inbox FOR EACH STATEMENT EXECUTE FUNCTION slow_store();
		CREATE FUNCTION later() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN
		    IF EXISTS (SELECT FROM slow) THEN NEW.not_before := now() + interval '1 hour'; END IF;
		    RETURN NEW;
		END \$\$;
		CREATE TRIGGER later BEFORE INSERT ON nps.outbox FOR EACH ROW EXECUTE FUNCTION later();
	});
}

# Queues $n messages to distinct subscribers (or one msisdn), returns nothing.
sub queue_messages
{
	my ($node, $n, $body, $msisdn) = @_;
	$body //= 'Оцените нас от 0 до 10';
	my $to = defined $msisdn ? "'$msisdn'" : "'7916' || lpad(g::text, 7, '0')";
	$node->safe_psql('postgres',
		"INSERT INTO nps.outbox (msisdn, source_addr, body) "
		  . "SELECT $to, '0650', '" . ($body =~ s/'/''/gr) . "' FROM generate_series(1, $n) g");
}

# Compares nps.outbox with the simulator's --log (one TSV line per submit_sm:
# time, system, seq, message id or -, src, dst, coding, esm_class, ref, part,
# parts, text).  Returns (missing, duplicates): outbox bodies never accepted
# by the simulator, and accepted submits beyond the first of each body.
sub compare_with_sim_log
{
	my ($node, $log, $where) = @_;
	my %seen;
	for my $line (split /\n/, PostgreSQL::Test::Utils::slurp_file($log))
	{
		my @f = split /\t/, $line;
		$seen{ $f[-1] }++ if $f[3] ne '-';
	}
	my @bodies = split /\n/, $node->safe_psql('postgres', "SELECT body FROM nps.outbox WHERE $where");
	my $missing = grep { !$seen{$_} } @bodies;
	my $dups = 0;
	$dups += $seen{$_} - 1 for grep { $seen{$_} } @bodies;
	return ($missing, $dups);
}

# Seconds a storm of throttled (or queue-full) submits may take to drain
# when it is refused in $windows windows: the storm ends with the refusal of
# its last window, so it waits the pauses after the others, numbered $from
# onwards in the back-off of src/sender.c (100 ms, doubling up to 5 s), plus
# a slack for the round trips and the worker's turns.
sub storm_bound
{
	my ($from, $windows) = @_;
	my $ms = 0;
	$ms += List::Util::min(100 * 2**$_, 5000) for $from .. $from + $windows - 2;
	return $ms / 1000 + 2 + 0.2 * $windows;
}

package NpsTest::Sim;

use strict;
use warnings;
use IO::Socket::INET;
use IPC::Run;
use Test::More;
use Time::HiRes qw(time usleep);

sub start
{
	my ($class, @args) = @_;
	my $self = bless { args => [@args], port => 0, control_port => 0 }, $class;
	$self->_run;
	return $self;
}

sub _run
{
	my ($self) = @_;
	my $bin = "$NpsTest::ROOT/sim/nps-smsc-sim";
	die "simulator $bin not built" unless -x $bin;
	my @cmd = ($bin, '--port', $self->{port}, '--control-port', $self->{control_port},
		'--reply-rate', '0', @{ $self->{args} });
	$self->{out} = '';
	$self->{err} = '';
	$self->{h} = IPC::Run::start(\@cmd, '<', \undef, '>', \$self->{out}, '2>', \$self->{err});
	my $deadline = time + 10;
	while (time < $deadline && $self->{out} !~ /control on 127\.0\.0\.1:\d+/)
	{
		$self->{h}->pump_nb;
		usleep(20_000);
	}
	($self->{port}) = $self->{out} =~ /listening on 127\.0\.0\.1:(\d+)/
	  or die "simulator did not start: $self->{out} $self->{err}";
	($self->{control_port}) = $self->{out} =~ /control on 127\.0\.0\.1:(\d+)/;
}

sub port { $_[0]->{port} }

# Sends one control line, returns the answer line.
sub control
{
	my ($self, $line) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{control_port},
		Proto => 'tcp', Timeout => 5) or die "control port: $!";
	print $s "$line\n";
	my $answer = <$s>;
	close $s;
	chomp $answer if defined $answer;
	return $answer // '';
}

sub stats
{
	my ($self) = @_;
	my %s = $self->control('stats') =~ /(\w+)=(\d+)/g;
	return %s;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{h};
	$self->{h}->signal('KILL');
	$self->{h}->finish;
	delete $self->{h};
}

# Same ports again (the worker reconnects to the same address).
sub restart
{
	my ($self) = @_;
	$self->stop;
	$self->_run;
}

sub DESTROY { $_[0]->stop }

1;
