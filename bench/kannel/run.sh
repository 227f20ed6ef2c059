#!/bin/bash
# bench/kannel/run.sh [N] - the Kannel side of the peer comparison (issue 8).
#
# Sends N messages (default 100000) with delivery receipts through Kannel
# 1.4.5 (bearerbox with one SMPP transceiver bind, fed by smsbox's HTTP
# sendsms) to the SMSC simulator, and measures messages per second from the
# first sendsms request to the last receipt recorded by the DLR sink. The last
# line of output is machine-readable:
#   kannel messages=N seconds=S rate=R/s receipts=K
#
# Environment:
#   SIM_PORT, SIM_CONTROL_PORT  use this running simulator (the combined
#                      script's) instead of starting one; without the control
#                      port there is no submit time, no simulator counters,
#                      no PREQUEUE and no NO_RECEIPTS
#   SIM                the simulator to start (default sim/nps-smsc-sim)
#   SIM_SYSTEM_ID, SIM_PASSWORD  bind credentials (default kannel / kannel)
#   RECEIPT_DELAY_MS   --receipt-delay-ms of a simulator started here (0)
#   CODING             ucs2 (default: Russian text, coding=2) or gsm
#   CONC               concurrent sendsms connections, at most 10 (10)
#   WINDOW             Kannel's max-pending-submits (100)
#   STALL              seconds without a new receipt before giving up (60)
#   STORE=1            keep Kannel's message store on disk (store-type = file)
#   PREQUEUE=1         like nps's queued outbox rows: all N messages are fed
#                      while Kannel's SMSC port leads nowhere (bearerbox queues
#                      them), then the bind goes to the simulator; the clock
#                      starts at the first submit_sm (needs the control port)
#   NO_RECEIPTS=1      the submit-only rate: no receipts asked for, the end
#                      is the simulator's N-th submit_sm (needs its control port)
#   BLAST=0            skip the bench/smpp-blast ceiling run
#   KEEP=1             keep the temporary directory (configs and logs)
#   KANNEL_LOG_LEVEL   log-level of the Kannel log files (2: warnings)
#
# Needs: apt-get install -y kannel; node; curl; make -C sim (nps-smsc-sim).
set -euo pipefail

N=${1:-100000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CODING=${CODING:-ucs2}
# The text of bench/smpp_throughput.sh's outbox rows; each message appends its
# number (feed.js, smpp-blast): one part in UCS-2 or in GSM-7.
case $CODING in
ucs2) TEXT='Оцените салон от 0 до 10 #' ;;
gsm) TEXT='Rate the salon from 0 to 10 #' ;;
*) echo "kannel-bench: CODING must be ucs2 or gsm" >&2; exit 1 ;;
esac
CONC=${CONC:-10}
WINDOW=${WINDOW:-100}
STALL=${STALL:-60}
NO_RECEIPTS=${NO_RECEIPTS:-0}
PREQUEUE=${PREQUEUE:-0}
SIM_SYSTEM_ID=${SIM_SYSTEM_ID:-kannel}
SIM_PASSWORD=${SIM_PASSWORD:-kannel}

die() { echo "kannel-bench: $*" >&2; exit 1; }
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
((CONC >= 1 && CONC <= 10)) || die "CONC must be 1..10 (smsbox's listen backlog is 10)"
[ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] ||
	die "Kannel is not installed: apt-get install -y kannel"
command -v node >/dev/null || die "node is required"
command -v curl >/dev/null || die "curl is required"

# The package's own service must not hold the SMSC bind or the CPU.
if [ -r /run/kannel/kannel_bearerbox.pid ] &&
	kill -0 "$(cat /run/kannel/kannel_bearerbox.pid)" 2>/dev/null; then
	echo "kannel-bench: stopping the kannel package service" >&2
	/etc/init.d/kannel stop >&2 || true
fi

dir=$(mktemp -d /tmp/kannel-bench.XXXXXX)
pids=()
cleanup() {
	local p
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[i]}
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-}" = 1 ]; then echo "kannel-bench: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# port_from FILE NAME WORD: waits (up to 15 s) for FILE to contain
# "WORD on 127.0.0.1:PORT" and prints PORT; NAME is for the error message.
port_from() {
	local line
	for _ in $(seq 150); do
		line=$(grep -m1 -o "$3 on 127.0.0.1:[0-9]*" "$1" 2>/dev/null || true)
		[ -n "$line" ] && { echo "${line##*:}"; return; }
		sleep 0.1
	done
	die "$2 did not start: $(cat "$1")"
}

# Simulator: the caller's, or one started here in benchmark (sink) mode.
if [ -z "${SIM_PORT:-}" ]; then
	sim=${SIM:-$root/sim/nps-smsc-sim}
	[ -x "$sim" ] || make -s -C "$root/sim" nps-smsc-sim >&2 || die "cannot build $sim"
	"$sim" --port 0 --control-port 0 --sink --receipt-delay-ms "${RECEIPT_DELAY_MS:-0}" \
		--system-id "$SIM_SYSTEM_ID" --password "$SIM_PASSWORD" >"$dir/sim.out" 2>&1 &
	pids+=($!)
	SIM_PORT=$(port_from "$dir/sim.out" simulator listening)
	SIM_CONTROL_PORT=$(port_from "$dir/sim.out" simulator control)
fi
[ "$NO_RECEIPTS$PREQUEUE" != 00 ] && [ -z "${SIM_CONTROL_PORT:-}" ] &&
	die "NO_RECEIPTS=1 and PREQUEUE=1 need SIM_CONTROL_PORT"

# The polling below uses bash built-ins only (no curl or node per poll), so
# that it takes no CPU from the processes measured.
# Sets STATS to the simulator's "stats" line (key=value words), or nothing.
sim_stats() {
	STATS=''
	[ -n "${SIM_CONTROL_PORT:-}" ] || return 0
	exec 3<>"/dev/tcp/127.0.0.1/$SIM_CONTROL_PORT" || return 0
	echo stats >&3
	IFS= read -r -t 5 STATS <&3 || true
	exec 3<&-
	STATS=${STATS#ok }
}
# Prints the counter NAME of STATS, or nothing.
stat_of() { [[ " $STATS" =~ \ $1=([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || true; }
# Sets RECEIPTS to the number of receipts the DLR sink recorded.
sink_receipts() {
	local resp=''
	RECEIPTS=0
	exec 4<>"/dev/tcp/127.0.0.1/$DLR_PORT" || return 0
	printf 'GET /stats HTTP/1.0\r\n\r\n' >&4
	IFS= read -r -d '' -t 5 resp <&4 || true
	exec 4<&-
	[[ $resp =~ \"receipts\":([0-9]+) ]] && RECEIPTS=${BASH_REMATCH[1]} || true
}
now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }

# The ceiling: the bare libsmpp34 client of the sim branch, same simulator,
# same messages, same window, run before Kannel so the two do not compete.
blast_line=''
if [ "${BLAST:-1}" = 1 ]; then
	blast=$root/bench/smpp-blast
	[ -x "$blast" ] || make -s -C "$root/sim" ../bench/smpp-blast >&2 || die "cannot build $blast"
	no_receipts=()
	[ "$NO_RECEIPTS" = 1 ] && no_receipts=(--no-receipts)
	blast_line=$("$blast" --port "$SIM_PORT" --count "$N" --window "$WINDOW" \
		--system-id "$SIM_SYSTEM_ID" --password "$SIM_PASSWORD" \
		--text "${TEXT% #}" "${no_receipts[@]}") || die "smpp-blast failed: $blast_line"
	echo "kannel-bench: smpp-blast $blast_line" >&2
fi

store=''
[ "${STORE:-}" = 1 ] && store="store-type = file\\nstore-location = \"$dir/kannel.store\""

# Free ports for bearerbox's admin and box ports, smsbox's sendsms port, and
# one where nothing listens (PREQUEUE=1).
read -r ADMIN_PORT SMSBOX_PORT SENDSMS_PORT NOWHERE_PORT < <(node -e '
	const net = require("net"); const s = [0, 1, 2, 3].map(() => net.createServer());
	let k = 0; s.forEach((x) => x.listen(0, "127.0.0.1", () => { if (++k === 4) {
		console.log(s.map((y) => y.address().port).join(" ")); s.forEach((y) => y.close()); } }));')

sed -e "s|@ADMIN_PORT@|$ADMIN_PORT|; s|@SMSBOX_PORT@|$SMSBOX_PORT|; s|@SENDSMS_PORT@|$SENDSMS_PORT|" \
	-e "s|@SMSC_PORT@|$([ "$PREQUEUE" = 1 ] && echo "$NOWHERE_PORT" || echo "$SIM_PORT")|" \
	-e "s|@SYSTEM_ID@|$SIM_SYSTEM_ID|; s|@PASSWORD@|$SIM_PASSWORD|" \
	-e "s|@WINDOW@|$WINDOW|; s|@DIR@|$dir|; s|@LOG_LEVEL@|${KANNEL_LOG_LEVEL:-2}|" \
	-e "s|^@STORE@\$|$store|" \
	"$here/kannel.conf.in" >"$dir/kannel.conf"

node "$here/dlr-sink.js" --n "$N" >"$dir/sink.out" 2>&1 &
pids+=($!)
DLR_PORT=$(port_from "$dir/sink.out" "DLR sink" listening)

# wait_status PATTERN NAME WHAT: waits up to 15 s until bearerbox's status
# page matches PATTERN while the process last started (NAME) lives.
wait_status() {
	for _ in $(seq 150); do
		curl -fs "$status" 2>/dev/null | grep -q "$1" && return
		kill -0 "${pids[-1]}" 2>/dev/null || die "$2 exited: $(tail -5 "$dir/$2.out")"
		sleep 0.1
	done
	die "$2: $3 (KEEP=1 keeps the logs)"
}
status="http://127.0.0.1:$ADMIN_PORT/status.txt?password=bench"

# -v 2: warnings only on the console (the default, debug, costs more than
# the benchmark itself).
/usr/sbin/bearerbox -v 2 "$dir/kannel.conf" >"$dir/bearerbox.out" 2>&1 &
pids+=($!)
if [ "$PREQUEUE" = 1 ]; then
	wait_status 'sim\[.*connecting' bearerbox "no SMSC connection"
else
	wait_status 'sim\[.*online' bearerbox "no bind to the simulator at 127.0.0.1:$SIM_PORT"
fi
/usr/sbin/smsbox -v 2 "$dir/kannel.conf" >"$dir/smsbox.out" 2>&1 &
pids+=($!)
wait_status 'smsbox:.*on-line' smsbox "no connection to bearerbox"
for _ in $(seq 150); do
	curl -s -o /dev/null "http://127.0.0.1:$SENDSMS_PORT/" && break
	sleep 0.1
done

sim_stats
before=$STATS
submits0=$(stat_of submits)
echo "kannel-bench: N=$N coding=$CODING conc=$CONC window=$WINDOW prequeue=$PREQUEUE" \
	"sim=127.0.0.1:$SIM_PORT" >&2

dlr=(--dlr-url "http://127.0.0.1:$DLR_PORT/dlr")
[ "$NO_RECEIPTS" = 1 ] && dlr=()
node "$here/feed.js" --url "http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms" \
	"${dlr[@]}" --n "$N" --conc "$CONC" \
	--text "$TEXT" --ucs2 "$([ "$CODING" = ucs2 ] && echo 1 || echo 0)" >"$dir/feed.json" &
feeder=$!
pids+=($feeder)
start_ms=''
if [ "$PREQUEUE" = 1 ]; then
	# All N wait in bearerbox's queue ("3: Queued for later delivery"); a
	# graceful restart re-reads the configuration, now with the simulator's
	# port, and the queue drains into the new bind.
	wait "$feeder" || die "feeder failed: $(cat "$dir/feed.json")"
	curl -fs "$status" | grep -q "sent 0 ($N queued)" ||
		die "bearerbox did not queue $N messages: $(curl -fs "$status" | grep '^SMS:')"
	sed -i "s|^port = $NOWHERE_PORT\$|port = $SIM_PORT|" "$dir/kannel.conf"
	# (in the background: the answer comes when the restart is over, by which
	# time much of the queue is gone)
	curl -fs "http://127.0.0.1:$ADMIN_PORT/graceful-restart?password=bench" >/dev/null &
	for _ in $(seq 3000); do
		sim_stats
		s=$(stat_of submits)
		[ -n "$s" ] && ((s > submits0)) && { start_ms=$(now_ms); break; }
		sleep 0.005
	done
	[ -n "$start_ms" ] || die "no submit_sm 15 s after the graceful restart"
fi

# Poll until every receipt is in (or, with NO_RECEIPTS=1, every submit_sm)
# or nothing progressed for STALL seconds; note when the simulator had
# received all N submit_sm.
submit_ms='' s='' last_count=-1 last_change=$SECONDS
while :; do
	if [ -z "$submit_ms" ] && [ -n "$submits0" ]; then
		sim_stats
		s=$(stat_of submits)
		[ -n "$s" ] && ((s - submits0 >= N)) && submit_ms=$(now_ms)
	fi
	if [ "$NO_RECEIPTS" = 1 ]; then
		count=$((${s:-$submits0} - submits0))
	else
		sink_receipts
		count=$RECEIPTS
	fi
	((count >= N)) && break
	if ((count != last_count)); then
		last_count=$count last_change=$SECONDS
	elif ((SECONDS - last_change > STALL)); then
		echo "kannel-bench: no progress for ${STALL}s, stopping at $count of $N" >&2
		break
	fi
	sleep 0.1
done
wait "$feeder" || die "feeder failed: $(cat "$dir/feed.json")"
sim_stats
after=$STATS
# (the last submit_sm can land between two polls of a receipt run's end)
s=$(stat_of submits)
[ -z "$submit_ms" ] && [ -n "$s" ] && ((s - submits0 >= N)) && submit_ms=$(now_ms)
feed=$(cat "$dir/feed.json")
# The start: the first sendsms request, or with PREQUEUE=1 the first submit_sm.
[[ $feed =~ \"first_ms\":([0-9]+) ]] && : "${start_ms:=${BASH_REMATCH[1]}}"

node -e '
	const [f, s, N, subMs, before, after, blast, noReceipts, startMs] = [
		JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), Number(process.argv[3]),
		Number(process.argv[4]), process.argv[5], process.argv[6], process.argv[7],
		process.argv[8] === "1", Number(process.argv[9])];
	const kv = (l) => Object.fromEntries(l.split(/\s+/).filter((w) => w.includes("="))
		.map((w) => w.split("=")).map(([k, v]) => [k, parseFloat(v)]));
	const b = kv(before), a = kv(after), bl = kv(blast);
	const sec = (t) => (t - startMs) / 1000;
	// The end: the last receipt recorded, or the N-th submit_sm at the simulator.
	const done = noReceipts ? (subMs ? N : a.submits - b.submits) : s.receipts;
	const secs = noReceipts ? (subMs ? sec(subMs) : NaN) : s.receipts ? sec(s.last_ms) : NaN;
	const rate = Math.round(done / secs);
	console.error(`sendsms: ${f.accepted} accepted, ${f.rejected} rejected, ${f.errors} errors` +
		` in ${f.seconds.toFixed(2)} s (${f.rate}/s)` + (f.sample_error ? `; first error: ${f.sample_error}` : ""));
	if (subMs) console.error(`submit_sm: ${N} at the simulator after ${sec(subMs).toFixed(2)} s` +
		` (${Math.round(N / sec(subMs))}/s, poll resolution 0.1 s)`);
	if (!noReceipts) console.error(`receipts: ${s.receipts} recorded (${s.delivered} delivered,` +
		` ${s.failed} failed, ${s.duplicates} duplicates) after ${secs.toFixed(2)} s`);
	if (Object.keys(a).length) console.error("sim (Kannel run): " + ["submits", "receipts_sent",
		"receipts_acked", "throttled", "generic_nacks", "undecodable"]
		.map((k) => `${k}=${a[k] - (b[k] || 0)}`).join(" "));
	if (bl.rate) console.error(`smpp-blast ${bl.rate}/s, Kannel ${rate}/s:` +
		` Kannel reaches ${(rate / bl.rate).toFixed(3)} of the bare-client ceiling`);
	console.log(`kannel messages=${N} seconds=${secs.toFixed(2)} rate=${rate}/s` +
		` receipts=${noReceipts ? 0 : s.receipts}`);
' "$feed" "$(curl -fs "http://127.0.0.1:$DLR_PORT/stats")" "$N" "${submit_ms:-0}" "$before" "$after" \
	"$blast_line" "$NO_RECEIPTS" "$start_ms"
