#!/usr/bin/perl
#
# test_sim.pl: protocol and fault-injection tests for nps-smsc-sim, written
# against the wire with plain sockets (no libsmpp34), so they also check
# what the simulator puts on the wire.  Prints TAP.
#
# Usage: perl test_sim.pl [path/to/nps-smsc-sim] (run by make -C sim check)

use strict;
use warnings;
use utf8;

use Encode qw(encode decode);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

my $sim = shift // './nps-smsc-sim';
my $dir = tempdir(CLEANUP => 1);
my $log = "$dir/submits.tsv";

my @cmd = (
	$sim, qw(--port 0 --control-port 0 --system-id nps --password secret
	  --seed 7 --reply-rate 1 --stop-rate 0 --garbage-rate 0 --alarm-rate 0
	  --reply-min-ms 20 --reply-max-ms 60 --receipt-delay-ms 10
	  --deliver-timeout-ms 400 --redeliver-ms 100 --enquire-ms 400
	  --mo-concat udh16),
	'--log', $log);
my $pid = open(my $simout, '-|', @cmd) or die "cannot start $sim: $!";
my ($port) = (scalar(<$simout>) // '') =~ /listening on 127\.0\.0\.1:(\d+)/;
my ($cport) = (scalar(<$simout>) // '') =~ /control on 127\.0\.0\.1:(\d+)/;
ok($port && $cport, "simulator started on ports $port and $cport");

END { kill('KILL', $pid) if $pid && kill(0, $pid); }

# ---- wire helpers -------------------------------------------------------

my (%buf, %eof);
my $seq = 100;

sub esme
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		Proto => 'tcp') or die "connect: $!";
	return $s;
}

sub send_pdu
{
	my ($s, $id, $status, $sq, $body) = @_;
	$body //= '';
	print $s pack('NNNN', 16 + length($body), $id, $status, $sq) . $body;
}

# next PDU as {id, status, seq, body}, undef on timeout or EOF
sub next_pdu
{
	my ($s, $timeout) = @_;
	my $until = time + ($timeout // 2);
	for (;;)
	{
		my $b = $buf{$s} //= '';
		if (length($b) >= 16)
		{
			my ($len, $id, $st, $sq) = unpack('NNNN', $b);
			if (length($b) >= $len)
			{
				$buf{$s} = substr($b, $len);
				return { id => $id, status => $st, seq => $sq,
					body => substr($b, 16, $len - 16) };
			}
		}
		my $left = $until - time;
		return undef if $left <= 0;
		return undef unless IO::Select->new($s)->can_read($left);
		my $n = sysread($s, my $chunk, 65536);
		$eof{$s} = 1 unless $n;
		return undef unless $n;
		$buf{$s} .= $chunk;
	}
}

# waits for a PDU with this command_id; answers enquire_link and (with
# status $dstatus, default 0) deliver_sm met on the way, collecting them
sub wait_for
{
	my ($s, $id, $timeout, $seen, $dstatus) = @_;
	my $until = time + ($timeout // 2);
	while ((my $left = $until - time) > 0)
	{
		my $p = next_pdu($s, $left) or return undef;
		return $p if $p->{id} == $id;
		if ($p->{id} == 0x15)
		{
			send_pdu($s, 0x80000015, 0, $p->{seq});
		}
		elsif ($p->{id} == 5)
		{
			push @$seen, $p if $seen;
			send_pdu($s, 0x80000005, $dstatus // 0, $p->{seq}, "\0");
		}
	}
	return undef;
}

# true once the peer has closed: drains what is still buffered
sub closed
{
	my ($s, $timeout) = @_;
	my $until = time + $timeout;
	next_pdu($s, $until - time) while !$eof{$s} && time < $until;
	return $eof{$s};
}

sub cstr
{
	my ($b, $pos) = @_;
	my $end = index($$b, "\0", $$pos);
	my $v = substr($$b, $$pos, $end - $$pos);
	$$pos = $end + 1;
	return $v;
}

# submit_sm / deliver_sm body -> hash with text decoded and UDH split off
sub parse_sm
{
	my ($body) = @_;
	my $pos = 0;
	my %m;
	$m{service_type} = cstr(\$body, \$pos);
	@m{qw(src_ton src_npi)} = unpack('CC', substr($body, $pos, 2));
	$pos += 2;
	$m{src} = cstr(\$body, \$pos);
	@m{qw(dst_ton dst_npi)} = unpack('CC', substr($body, $pos, 2));
	$pos += 2;
	$m{dst} = cstr(\$body, \$pos);
	@m{qw(esm pid prio)} = unpack('CCC', substr($body, $pos, 3));
	$pos += 3;
	$m{sched} = cstr(\$body, \$pos);
	$m{validity} = cstr(\$body, \$pos);
	@m{qw(regdel replace dc defid smlen)} = unpack('CCCCC', substr($body, $pos, 5));
	$pos += 5;
	my $sm = substr($body, $pos, $m{smlen});
	$pos += $m{smlen};
	while ($pos + 4 <= length($body))
	{
		my ($tag, $len) = unpack('nn', substr($body, $pos, 4));
		$m{tlv}{$tag} = substr($body, $pos + 4, $len);
		$pos += 4 + $len;
	}
	if ($m{esm} & 0x40)
	{
		my $udhl = ord($sm);
		my $udh = substr($sm, 1, $udhl);
		$sm = substr($sm, 1 + $udhl);
		if ($udh =~ /^\x00\x03(.)(.)(.)/s)
		{
			@m{qw(ref total part)} = (ord $1, ord $2, ord $3);
		}
		elsif ($udh =~ /^\x08\x04(..)(.)(.)/s)
		{
			@m{qw(ref total part)} = (unpack('n', $1), ord $2, ord $3);
		}
	}
	elsif (exists $m{tlv}{0x020C})
	{
		$m{ref} = unpack('n', $m{tlv}{0x020C});
		$m{total} = ord $m{tlv}{0x020E};
		$m{part} = ord $m{tlv}{0x020F};
	}
	$m{raw} = $sm;
	$m{text} = $m{dc} == 8 ? decode('UTF-16BE', $sm) : $sm;
	return \%m;
}

sub submit_body
{
	my (%a) = @_;
	my $text = $a{text} // 'hello';
	my $dc = $a{dc} // ($text =~ /[^\x00-\x7f]/ ? 8 : 0);
	my $sm = $a{sm} // ($dc == 8 ? encode('UTF-16BE', $text) : $text);
	return pack('Z*CCZ*CCZ*CCCZ*Z*CCCCC', '', 3, 0, $a{src} // '0650', 1, 1,
		$a{dst} // '79161234567', $a{esm} // 0, 0, 0, '', '',
		$a{regdel} // 1, 0, $dc, 0, length($sm)) . $sm . ($a{tlvs} // '');
}

sub bind_body
{
	my ($sysid, $pw, $ver) = @_;
	return pack('Z*Z*Z*CCCZ*', $sysid, $pw, '', $ver // 0x34, 0, 0, '');
}

my $ctl = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $cport,
	Proto => 'tcp') or die "control: $!";

sub control
{
	my ($line) = @_;
	print $ctl encode('UTF-8', "$line\n");
	my $r = <$ctl>;
	return defined $r ? decode('UTF-8', $r) : '';
}

sub stat_of
{
	my ($key) = @_;
	my ($v) = control('stats') =~ /\b$key=(\d+)/;
	return $v;
}

# ---- binds --------------------------------------------------------------

my $s = esme();
send_pdu($s, 9, 0, ++$seq, bind_body('nps', 'wrong'));
my $p = wait_for($s, 0x80000009);
is($p && $p->{status}, 0x0E, 'wrong password: bind_transceiver_resp ESME_RINVPASWD');
send_pdu($s, 9, 0, ++$seq, bind_body('other', 'secret'));
$p = wait_for($s, 0x80000009);
is($p && $p->{status}, 0x0F, 'wrong system_id: ESME_RINVSYSID');

send_pdu($s, 9, 0, ++$seq, bind_body('nps', 'secret', 0x50));
$p = wait_for($s, 0x80000009);
is($p && $p->{status}, 0, 'interface_version 0x50 is accepted');
send_pdu($s, 9, 0, ++$seq, bind_body('nps', 'secret'));
$p = wait_for($s, 0x80000009);
is($p && $p->{status}, 5, 'second bind: ESME_RALYBND');

my $tx = esme();
send_pdu($tx, 2, 0, ++$seq, bind_body('nps', 'secret'));
$p = wait_for($tx, 0x80000002);
is($p && $p->{status}, 0, 'bind_transmitter accepted');

# ---- plain requests -----------------------------------------------------

send_pdu($s, 0x15, 0, 4242);
$p = wait_for($s, 0x80000015);
is($p && $p->{seq}, 4242, 'enquire_link answered with its sequence_number');

send_pdu($s, 0x00000999, 0, 4243);
$p = wait_for($s, 0x80000000);
ok($p && $p->{status} == 3 && $p->{seq} == 4243, 'unknown command id: generic_nack ESME_RINVCMDID');

send_pdu($s, 4, 0, 4244, "\x00\x03");
$p = wait_for($s, 0x80000000);
ok($p && $p->{seq} == 4244, 'garbled submit_sm: generic_nack');

send_pdu($s, 0x103, 0, 4245, 'x' x 20);
$p = wait_for($s, 0x80000000);
ok($p && $p->{status} == 3, 'data_sm is not served: generic_nack');

# ---- a survey question and its answers ----------------------------------

my @dl;
my $q = 'Оцените, пожалуйста, от 0 до 10, насколько вероятно, что вы нас порекомендуете?';
send_pdu($s, 4, 0, ++$seq, submit_body(text => $q, dst => '79161234567', src => '0651'));
$p = wait_for($s, 0x80000004, 2, \@dl);
my ($msgid) = $p ? $p->{body} =~ /^([0-9a-f]+)\0/ : ();
ok($p && $p->{status} == 0 && $msgid, "submit_sm_resp with message_id $msgid");

my $deadline = time + 3;
wait_for($s, 0xFFFF, 0.2, \@dl) while time < $deadline && @dl < 2;
my ($rcpt) = grep { $_->{esm} & 4 } map { parse_sm($_->{body}) } @dl;
my ($mo) = grep { !($_->{esm} & 4) } map { parse_sm($_->{body}) } @dl;
ok($rcpt && $rcpt->{text} =~ /^id:\Q$msgid\E sub:001 dlvrd:001 submit date:\d{10} done date:\d{10} stat:DELIVRD err:000 text:/,
	'receipt text in SMPP appendix B format');
is($rcpt && $rcpt->{tlv}{0x001E}, "$msgid\0", 'receipt carries receipted_message_id');
is($rcpt && ord($rcpt->{tlv}{0x0427}), 2, 'receipt carries message_state DELIVERED');
ok($rcpt && $rcpt->{src} eq '79161234567' && $rcpt->{dst} eq '0651', 'receipt comes from the subscriber to the short code');
ok($mo && $mo->{src} eq '79161234567' && $mo->{dst} eq '0651' && $mo->{src_ton} == 1,
	'subscriber replies from its msisdn to the short code asked from');
ok($mo && $mo->{text} =~ /(?:^|\D)(10|[0-9])(?:\D|$)|ноль|один|два|три|четыре|пять|шесть|семь|восемь|девять|десять/i,
	'the reply to a 0-10 question is a score: ' . ($mo ? encode('UTF-8', $mo->{text}) : 'none'));
ok($mo && $mo->{sched} eq '' && $mo->{validity} eq '', 'deliver_sm has empty schedule and validity');

# the same msisdn and question gives the same reply for the seed
@dl = ();
send_pdu($s, 4, 0, ++$seq, submit_body(text => $q, dst => '79161234567', src => '0651'));
wait_for($s, 0x80000004, 2, \@dl);
$deadline = time + 3;
wait_for($s, 0xFFFF, 0.2, \@dl) while time < $deadline && @dl < 2;
my ($mo2) = grep { !($_->{esm} & 4) } map { parse_sm($_->{body}) } @dl;
is($mo2 && $mo2->{text}, $mo && $mo->{text}, 'replies are deterministic for a seed');
is(stat_of('duplicates'), 1, 'the repeated question counts as a duplicate');

# thank-you texts get a receipt and no reply
@dl = ();
send_pdu($s, 4, 0, ++$seq, submit_body(text => 'Спасибо за ответы!', dst => '79160000001'));
wait_for($s, 0x80000004, 2, \@dl);
wait_for($s, 0xFFFF, 0.5, \@dl);
is(scalar(grep { !(parse_sm($_->{body})->{esm} & 4) } @dl), 0, 'no reply to a thank-you text');

# a question in two parts (16-bit UDH) is reassembled and answered once
@dl = ();
my $long = 'Скажите, пожалуйста, да или нет: ' . ('помог ли вам специалист салона связи сегодня? ' x 2);
my $enc = encode('UTF-16BE', $long);
my @parts = (substr($enc, 0, 132), substr($enc, 132));
for my $i (0 .. 1)
{
	send_pdu($tx, 4, 0, ++$seq, submit_body(dc => 8, esm => 0x40, dst => '79160000002',
		sm => "\x06\x08\x04\x12\x34\x02" . chr($i + 1) . $parts[$i]));
	wait_for($tx, 0x80000004);
}
$deadline = time + 3;
wait_for($s, 0xFFFF, 0.2, \@dl) while time < $deadline && @dl < 3;
my @replies = grep { !($_->{esm} & 4) } map { parse_sm($_->{body}) } @dl;
is(scalar(grep { $_->{esm} & 4 } map { parse_sm($_->{body}) } @dl), 2,
	'one receipt per part, sent to the transceiver of the same system_id');
ok(@replies == 1 && $replies[0]{text} =~ /^(да|нет|ага|yes|no|неа)/i,
	'two-part yes/no question answered once: ' . (@replies ? encode('UTF-8', $replies[0]{text}) : 'none'));

# a question split with SAR TLVs
@dl = ();
$enc = encode('UTF-16BE', 'Что нам улучшить в работе салона? Напишите, пожалуйста, пару слов о визите.');
@parts = (substr($enc, 0, 100), substr($enc, 100));
for my $i (0 .. 1)
{
	my $tlvs = pack('nnn', 0x020C, 2, 77) . pack('nnC', 0x020E, 1, 2) . pack('nnC', 0x020F, 1, $i + 1);
	send_pdu($tx, 4, 0, ++$seq, submit_body(dc => 8, sm => $parts[$i], tlvs => $tlvs, dst => '79160000003'));
	wait_for($tx, 0x80000004);
}
$deadline = time + 3;
wait_for($s, 0xFFFF, 0.2, \@dl) while time < $deadline && !grep { !(parse_sm($_->{body})->{esm} & 4) } @dl;
my @mo = grep { !($_->{esm} & 4) } map { parse_sm($_->{body}) } @dl;
ok(@mo >= 1 && $mo[0]{text} =~ /\p{Cyrillic}/, 'SAR question reassembled and answered with a comment');

# message_payload carries a whole text
@dl = ();
my $pl = encode('UTF-16BE', 'Оцените от 1 до 5 работу консультанта');
send_pdu($tx, 4, 0, ++$seq, submit_body(dc => 8, sm => '', dst => '79160000004',
	tlvs => pack('nn', 0x0424, length $pl) . $pl));
$p = wait_for($tx, 0x80000004);
$deadline = time + 3;
wait_for($s, 0xFFFF, 0.2, \@dl) while time < $deadline && @dl < 2;
@mo = grep { !($_->{esm} & 4) } map { parse_sm($_->{body}) } @dl;
ok($p && $p->{status} == 0 && @mo == 1 && $mo[0]{text} =~ /[1-5]|один|два|три|четыре|пять/i,
	'message_payload question answered on a 1-5 scale: ' . (@mo ? encode('UTF-8', $mo[0]{text}) : 'none'));

# ---- fault injection ----------------------------------------------------

like(control('throttle 2'), qr/^ok/, 'control: throttle 2');
my @st;
for (1 .. 3)
{
	send_pdu($tx, 4, 0, ++$seq, submit_body(text => "t$_", regdel => 0));
	my $r = wait_for($tx, 0x80000004);
	push @st, $r ? $r->{status} : -1;
}
is_deeply(\@st, [0x58, 0x58, 0], 'two submits throttled (0x58), then accepted');
is(length(control('qfull 1')) && do {
	send_pdu($tx, 4, 0, ++$seq, submit_body(text => 'q', regdel => 0));
	my $r = wait_for($tx, 0x80000004);
	$r ? $r->{status} : -1 }, 0x14, 'qfull: ESME_RMSGQFUL');
control('reject 1 0x45');
send_pdu($tx, 4, 0, ++$seq, submit_body(text => 'r', regdel => 0));
$p = wait_for($tx, 0x80000004);
ok($p && $p->{status} == 0x45 && length($p->{body}) == 0, 'reject: the status asked for, no message_id');
like(control('reject 1'), qr/^error/, 'reject without STATUS is an error');
like(control('frobnicate'), qr/^error/, 'unknown control command is an error');

# the next deliver_sm from $src, answering others (earlier replies) with OK
sub deliver_from
{
	my ($s, $src, $timeout) = @_;
	my $until = time + $timeout;
	while ((my $left = $until - time) > 0)
	{
		my $d = wait_for($s, 5, $left) or return undef;
		return $d if parse_sm($d->{body})->{src} eq $src;
		send_pdu($s, 0x80000005, 0, $d->{seq}, "\0");
	}
	return undef;
}

# redelivery: refuse an MO once, it comes again
like(control('mo 79161112233 0655 Алло, это опрос?'), qr/^ok queued 1 part/, 'control: mo injected');
$p = deliver_from($s, '79161112233', 2);
ok($p, 'injected MO arrives');
send_pdu($s, 0x80000005, 0x64, $p->{seq}, "\0") if $p;
my $again = deliver_from($s, '79161112233', 2);
ok($again && $again->{body} eq $p->{body} && $again->{seq} != $p->{seq},
	'refused deliver_sm is delivered again with a new sequence_number');
send_pdu($s, 0x80000005, 0, $again->{seq}, "\0") if $again;
is($p && parse_sm($p->{body})->{text}, 'Алло, это опрос?', 'injected MO text intact');
ok(stat_of('redeliveries') >= 1, 'stats count the redelivery');

# unanswered deliver_sm times out and comes again
control('mo 79161112244 0655 second');
$p = deliver_from($s, '79161112244', 2);
$again = deliver_from($s, '79161112244', 2);
ok($p && $again && $again->{body} eq $p->{body}, 'unanswered deliver_sm is redelivered after the timeout');
send_pdu($s, 0x80000005, 0, $again->{seq}, "\0") if $again;

# long injected MO goes in concatenated parts (16-bit UDH here)
my $longmo = 'Очень длинный ответ абонента о визите в салон связи. ' x 4;
my ($nparts) = control("mo 79161112234 0650 $longmo") =~ /ok queued (\d+) parts/;
my %got;
for (1 .. ($nparts // 0))
{
	my $d = deliver_from($s, '79161112234', 2) or last;
	send_pdu($s, 0x80000005, 0, $d->{seq}, "\0");
	my $m = parse_sm($d->{body});
	$got{$m->{part}} = $m->{text};
	$got{total} = $m->{total};
}
ok(($nparts // 0) > 1 && $got{total} == $nparts, "long MO split in $nparts parts with a 16-bit UDH");
is(join('', map { $got{$_} // '' } 1 .. ($nparts // 0)), $longmo, 'parts join to the text');

# enquire_link from the simulator
$p = wait_for($s, 0x15, 2);
ok($p, 'simulator sends enquire_link');
send_pdu($s, 0x80000015, 0, $p->{seq}) if $p;

# garbage: a deliver_sm cut short
like(control('garbage'), qr/^ok sent 2/, 'control: garbage sent to both ESMEs');
$p = wait_for($s, 5, 2);
ok($p && length($p->{body}) == 4, 'malformed deliver_sm received');
send_pdu($s, 0x80000000, 0x02, $p->{seq}) if $p;

# hang: nothing is answered until hang off
like(control('hang on'), qr/^ok/, 'control: hang on');
send_pdu($s, 0x15, 0, 5001);
ok(!wait_for($s, 0x80000015, 0.5), 'hung simulator answers nothing');
control('hang off');
$p = wait_for($s, 0x80000015, 2);
ok($p && $p->{seq} == 5001, 'after hang off the enquire_link is answered');

# drop: every ESME connection closes at once
like(control('drop'), qr/^ok dropped 2/, 'control: drop');
ok(closed($s, 2) && closed($tx, 2), 'both ESME connections closed');

# ---- robustness ---------------------------------------------------------

$s = esme();
send_pdu($s, 4, 0, 7, submit_body(text => 'before bind'));
$p = wait_for($s, 0x80000004);
is($p && $p->{status}, 4, 'submit_sm before bind: ESME_RINVBNDSTS');
print $s pack('NNNN', 8, 4, 0, 8);
$p = next_pdu($s, 2);
ok($p && $p->{id} == 0x80000000 && $p->{status} == 2, 'command_length 8: generic_nack ESME_RINVCMDLEN');
ok(closed($s, 2), 'and the connection is closed');

srand(42);
my $fuzzed = 0;
for my $round (1 .. 150)
{
	my $f = esme();
	if ($round % 3)
	{
		send_pdu($f, 9, 0, 1, bind_body('nps', 'secret'));
		wait_for($f, 0x80000009, 1);
	}
	my $id = (4, 5, 9, 0x15, 0x80000005, 0x103, int(rand(2**32)))[int(rand(7))];
	my $body = join('', map { chr(int(rand(256))) } 1 .. int(rand(300)));
	$body = substr(submit_body(text => 'fuzz'), 0, int(rand(60))) . $body if $round % 2;
	my $len = $round % 10 == 0 ? int(rand(2**32)) : 16 + length($body);
	print $f pack('NNNN', $len, $id, int(rand(2**32)), int(rand(2**31))) . $body;
	print $f join('', map { chr(int(rand(256))) } 1 .. int(rand(64))) if $round % 5 == 0;
	next_pdu($f, 0.05);
	close $f;
	$fuzzed++;
}
like(control('stats'), qr/^ok binds=/, "alive after $fuzzed connections of random bytes");

$log = do { local (@ARGV, $/) = ($log); <> } // '';
my @lines = split /\n/, decode('UTF-8', $log);
my @first = split /\t/, $lines[0] // '';
is(scalar(@first), 12, 'log lines have 12 TSV columns');
ok((grep { /\tОцените, пожалуйста, от 0 до 10/ } @lines) >= 2, 'log holds the decoded question text');

# ---- unreachable subscribers -------------------------------------------

{
	my $upid = open(my $uout, '-|', $sim, qw(--port 0 --undeliv-rate 1 --reply-rate 1
		--reply-min-ms 10 --reply-max-ms 20 --receipt-delay-ms 10)) or die;
	my ($uport) = (scalar(<$uout>) // '') =~ /:(\d+)/;
	my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $uport,
		Proto => 'tcp') or die;
	send_pdu($u, 9, 0, 1, bind_body('nps', ''));
	wait_for($u, 0x80000009);
	send_pdu($u, 4, 0, 2, submit_body(text => 'Оцените от 0 до 10'));
	my $r = wait_for($u, 0x80000004);
	my ($uid) = $r ? $r->{body} =~ /^(\w+)\0/ : ();
	my $d = wait_for($u, 5, 2);
	send_pdu($u, 0x80000005, 0, $d->{seq}, "\0") if $d;
	my $m = $d ? parse_sm($d->{body}) : {};
	ok($uid && ($m->{text} // '') =~ /^id:\Q$uid\E sub:001 dlvrd:000 .* stat:UNDELIV err:001 /
		&& ord($m->{tlv}{0x0427}) == 5, '--undeliv-rate: receipt UNDELIV, message_state 5');
	ok(!wait_for($u, 5, 0.5), 'and the unreachable subscriber does not reply');
	kill 'TERM', $upid;
	waitpid($upid, 0);
}

# ---- shutdown -----------------------------------------------------------

$s = esme();
send_pdu($s, 9, 0, 1, bind_body('nps', 'secret'));
wait_for($s, 0x80000009);
kill 'TERM', $pid;
$p = wait_for($s, 6, 3);
ok($p, 'SIGTERM: the simulator unbinds');
send_pdu($s, 0x80000006, 0, $p->{seq}) if $p;
waitpid($pid, 0);
is($? >> 8, 0, 'and exits 0');
$pid = undef;

done_testing();
