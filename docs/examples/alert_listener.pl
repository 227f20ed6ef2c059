#!/usr/bin/perl
# A manager's tool in a few lines: receive nps alerts the moment they are
# raised, updated, escalated or reopened (LISTEN nps_alert; the database sends
# each one when the transaction that made it commits) and print one line each.
#
#   alert_listener.pl [--dsn DBI-DSN] [--assignee LOGIN] [--count N]
#
#   --dsn       where to connect (default dbi:Pg:dbname=postgres; user and
#               password from PGUSER/PGPASSWORD or the DSN)
#   --assignee  only alerts now assigned to this login
#   --count     exit after N alerts (default: run until killed)
#
# Needs DBD::Pg (Debian: apt-get install libdbd-pg-perl).
use strict;
use warnings;
use DBI;
use Getopt::Long;
use IO::Select;
use JSON::PP;

my ($dsn, $assignee, $count) = ('dbi:Pg:dbname=postgres');
GetOptions('dsn=s' => \$dsn, 'assignee=s' => \$assignee, 'count=i' => \$count)
  or die "usage: $0 [--dsn DBI-DSN] [--assignee LOGIN] [--count N]\n";

binmode STDOUT, ':encoding(UTF-8)';
$| = 1;
my $dbh = DBI->connect($dsn, undef, undef, { RaiseError => 1, AutoCommit => 1, pg_enable_utf8 => 1 });
$dbh->do('LISTEN nps_alert');
print "listening on nps_alert\n";

my $json = JSON::PP->new;    # the payload arrives already decoded to characters
my $socket = IO::Select->new($dbh->{pg_socket});
my $seen = 0;
while (1)
{
	$socket->can_read;       # sleep until the server sends something
	while (my $n = $dbh->pg_notifies)
	{
		my (undef, undef, $payload) = @$n;
		my $a = $json->decode($payload);
		next if defined $assignee && ($a->{assignee} // '') ne $assignee;
		printf "%s alert %d, salon %s, severity %d, level %d (%s), due %s: %s\n",
		  $a->{event}, $a->{id}, $a->{salon_code}, $a->{severity}, $a->{level},
		  $a->{assignee} // 'nobody', $a->{due_at} // 'never',
		  join('; ', @{ $a->{reasons} });
		exit 0 if defined $count && ++$seen >= $count;
	}
}
