#!/bin/bash
# Per-thread CPU of the agent around one burst of creates (or a steady rate of them): where a
# delivery's CPU goes.
#
#   bench/threads.sh FOLDERHOOK WRITER URL DIR N [CONNECTIONS]
#
# FOLDERHOOK  the agent binary (a Release build: bench/run builds one in build-bench/)
# WRITER      bench/writer.c built (build-bench/bench-writer)
# URL         a receiver that answers 200 quickly (nginx on loopback, as bench/run starts one)
# DIR         where to make the watched folder and the state_dir: ext4 or a tmpfs. Each run
#             gets new ones and leaves them (deleting 50,000 files slows ext4's next creates).
# N           creates in the burst
# STATE_DIR   (environment, optional) where to make the state_dir instead of under DIR: an
#             ext4 folder puts the outbox where bench/run keeps it while the watched folder is
#             on a tmpfs
# RATE        (environment, optional) creates per second: the writer makes the N files at that
#             rate instead of as fast as it can, so that the agent keeps up and works a few
#             operations at a time, as it does in production
# DELIVERY    (environment, optional) lines added to the rules' [delivery] table, e.g.
#             "in_memory = 1000000" for bench/no_request_rows.patch's build
#
# Prints, per thread, CPU µs and run slices (wake-ups) per delivery from
# /proc/PID/task/*/schedstat before the burst and after its last delivery, then the outbox
# writer's stop line (commits, syncs, read_back). Not a pass/fail test: a tool for profiling.
set -eu
if [ $# -lt 5 ]; then
  # The comment block at the top, up to the first line that is not a comment.
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"
  exit 2
fi
BIN=$1 WRITER=$2 URL=$3 DIR=$4 N=$5 CONN=${6:-1}
RUN=$(mktemp -d "$DIR/threads.XXXXXX")
mkdir -p "$RUN/folder"
if [ -n "${STATE_DIR:-}" ]; then STATE=$(mktemp -d "$STATE_DIR/state.XXXXXX"); else STATE=$RUN/state; fi
mkdir -p "$STATE"
cat > "$RUN/rules.toml" <<EOF
[agent]
state_dir = "$STATE"
status_listen = ""
log_file = "$RUN/agent.log"
[delivery]
connections = $CONN
${DELIVERY:-}
[[folder]]
path = "$RUN/folder"
urls = ["$URL"]
EOF
delivered() { grep -c '"outcome":"delivered"' "$RUN/agent.log" 2>/dev/null || true; }
at_least() { [ "$(delivered)" -ge "$1" ]; }
wait_for() {  # wait_for SECONDS EVERY COMMAND...: polls COMMAND every EVERY seconds
  local deadline=$((SECONDS + $1)) every=$2; shift 2
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then echo "threads.sh: timed out waiting for: $*" >&2; return 1; fi
    sleep "$every"
  done
}
"$BIN" run --config "$RUN/rules.toml" > "$RUN/stdout" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
watching() { grep -q '"watching"' "$RUN/agent.log" 2>/dev/null; }
wait_for 60 0.02 watching
# A first delivery, so that every thread exists before the first snapshot.
touch "$RUN/folder/warm"
wait_for 30 0.02 at_least 1
snap() { for t in /proc/$PID/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(cat "$t/schedstat")"; done | sort; }
snap > "$RUN/before"
START=$(date +%s.%N)
mkdir "$RUN/folder/b"
if [ -n "${RATE:-}" ]; then
  "$WRITER" rate "$RUN/folder/b" "$N" "$RATE" /dev/null > /dev/null
else
  "$WRITER" burst "$RUN/folder/b" "$N" > /dev/null
fi
# Polled twice a second: a count of the growing log every 20 ms kept a core busy, and on a VM
# a busy machine makes each thread's sleep and wake-up cheaper (the sender read 20 µs of CPU
# per delivery with that poll, 31 without), so the figures were not bench/run's quiet machine's.
wait_for 600 0.5 at_least $((N + 2))  # the warm-up file and the directory too
# The burst ends at its last delivery's line, not at the poll that saw it.
LAST=$(grep '"outcome":"delivered"' "$RUN/agent.log" | tail -1 | grep -o '"ts":"[^"]*"' | cut -d'"' -f4)
END=$(date -d "$LAST" +%s.%N)
snap > "$RUN/after"
kill $PID
wait $PID || true
trap - EXIT
OPS=$((N + 1))
echo "$OPS deliveries in $(echo "$END - $START" | bc) s: $(echo "$OPS / ($END - $START)" | bc)/s"
join "$RUN/before" "$RUN/after" | awk -v n=$OPS '
  { cpu = ($7 - $3) / 1000 / n; slices = ($9 - $5) / n; total += cpu; wakes += slices
    if (cpu >= 0.05) printf "%-16s %6.1f us CPU  %5.2f slices per delivery\n", $2, cpu, slices }
  END { printf "%-16s %6.1f us CPU  %5.2f slices per delivery\n", "all threads", total, wakes }'
grep -o '"checkpoints[^}]*' "$RUN/agent.log" || true
echo "run directory: $RUN"
