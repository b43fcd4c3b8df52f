#!/usr/bin/env bash
# Scan a CSV on RGW in 64 MiB line-aligned chunks, counting records on the local executor
# (examples/count_records), against one curl stream of the same object, in one run.
# Reports throughput, the ratio, and the scan's peak RSS.
#
#   bench/csv_scan.sh            # 1 GiB
#   bench/csv_scan.sh --smoke    # 64 MiB
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${QUARRY_BIN:-build/release/quarry}
EX=${EXAMPLE_BIN:-build/release/count_records}
mib=1024
threads=${THREADS:-2}
[ "${1:-}" = "--smoke" ] && mib=64
eval "$(scripts/test-servers env)"
work=$(mktemp -d)
bucket="quarry-csv-bench-$$"
trap '"$Q" rb --force "s3://$bucket" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# 1 MiB of CSV records of varying length, repeated.
awk 'BEGIN { srand(7); while (n < 1048576) { l = sprintf("%d,%s,%d.%02d\n", NR++, substr("quarry-partitions-keep-every-line-whole", 1, 5 + int(rand() * 30)), int(rand() * 1000), int(rand() * 100)); printf "%s", l; n += length(l) } }' >"$work/block.csv"
for _ in $(seq "$mib"); do cat "$work/block.csv"; done >"$work/data.csv"
expected=$(wc -l <"$work/data.csv")
size=$(stat -c %s "$work/data.csv")
"$Q" mb "s3://$bucket" >/dev/null
"$Q" cp "$work/data.csv" "s3://$bucket/data.csv"
rm -f "$work/data.csv"
url=$("$Q" presign "s3://$bucket/data.csv")

best() {  # best_of 3 wall seconds of a command; also leaves peak RSS (KiB) of the last run in $work/rss
  local best="" t
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out"
    read -r t rss <"$work/time"
    echo "$rss" >"$work/rss"
    if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
  done
  echo "$best"
}

tc=$(best curl -sf -o /dev/null "$url")
tq=$(best "$EX" "s3://$bucket/data.csv" $((64 << 20)) "$threads")
rss_kib=$(cat "$work/rss")
got=$(cut -d' ' -f1 "$work/out")
[ "$got" = "$expected" ] || { echo "bench: counted $got records, expected $expected" >&2; exit 1; }

mbps() { echo "scale=0; $size / $1 / 1000000" | bc -l; }
echo
echo "| ${mib} MiB CSV, 64 MiB line-aligned chunks | MB/s | peak RSS |"
echo "|---|---|---|"
echo "| curl, one stream (presigned) | $(mbps "$tc") | - |"
echo "| quarry count_records, $threads threads | $(mbps "$tq") | $((rss_kib / 1024)) MiB |"
echo
echo "ratio quarry/curl: $(echo "scale=2; $tc / $tq" | bc -l); records: $got (all counted once)"
