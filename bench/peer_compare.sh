#!/usr/bin/env bash
# bench/peer_compare.sh [N]: the same N messages with delivery receipts sent
# to the same simulator (--sink) by nps and by Kannel 1.4.5, one after the
# other in one run, and the ratio of their rates (issue: nps >= 2x Kannel).
# Both clocks run from the first submit_sm to the last receipt recorded
# (nps: outbox state delivered; Kannel: queued first, PREQUEUE=1, receipt
# counted by its dlr-url sink).  Needs: apt-get install -y kannel; node.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
command -v /usr/sbin/bearerbox >/dev/null || { echo "install kannel first: apt-get install -y kannel" >&2; exit 2; }
nps_line=$(bench/smpp_throughput.sh "$N" | tee >(cat >&2) | grep '^nps: messages=')
kannel_line=$(PREQUEUE=1 bench/kannel/run.sh "$N" | tee >(cat >&2) | tail -n 1)
nps_rate=$(sed -n 's/.*rate=\([0-9.]*\)\/s.*/\1/p' <<<"$nps_line")
kannel_rate=$(sed -n 's/.*rate=\([0-9.]*\)\/s.*/\1/p' <<<"$kannel_line")
echo "$nps_line"
echo "$kannel_line"
echo "nps / kannel = $(awk -v a="$nps_rate" -v b="$kannel_rate" 'BEGIN { printf "%.2f", a / b }')"
