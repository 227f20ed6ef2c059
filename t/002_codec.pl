# The shared codec (text_codec.c, smpp_frame.c, linked by the worker and the
# simulator): its unit tests, then random inputs under AddressSanitizer and
# UBSan (sim/fuzz_codec aborts on any out-of-bounds access).
use strict;
use warnings;
use Test::More;

my $sim = "$ENV{NPS_ROOT}/sim";

for my $prog ([ 'test_codec' ], [ 'fuzz_codec', 200000, 20261128 ])
{
	my ($name, @args) = @$prog;
	my $out = `$sim/$name @args 2>&1`;
	my $status = $?;
	my @results = $out =~ /^(ok|not ok) \d+ - (.*)$/mg;
	my $failed = () = $out =~ /^not ok/mg;
	note($out) if $status || $failed;
	ok(@results > 0, "$name ran its checks");
	is($status, 0, "$name exits 0 (no sanitizer report)");
	is($failed, 0, "$name: every check passed");
}

done_testing();
