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

# Rounds alternate curl and Quarry, so a drift in the machine's speed (the RGW shares its two
# cores) favours neither; the best of each is kept, with the peak RSS of Quarry's runs.
timed() {  # wall seconds of a command; its peak RSS (KiB) goes to $work/rss
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out"
  read -r t rss <"$work/time"
  echo "$rss" >"$work/rss"
  echo "$t"
}
tc="" tq="" rss_kib=0
for _ in 1 2 3 4 5; do
  t=$(timed curl -sf -o /dev/null "$url")
  if [ -z "$tc" ] || (($(echo "$t < $tc" | bc -l))); then tc=$t; fi
  t=$(timed "$EX" "s3://$bucket/data.csv" $((64 << 20)) "$threads")
  if [ -z "$tq" ] || (($(echo "$t < $tq" | bc -l))); then tq=$t; fi
  rss_kib=$(($(cat "$work/rss") > rss_kib ? $(cat "$work/rss") : rss_kib))
  got=$(cut -d' ' -f1 "$work/out")
  [ "$got" = "$expected" ] || { echo "bench: counted $got records, expected $expected" >&2; exit 1; }
done

mbps() { echo "scale=0; $size / $1 / 1000000" | bc -l; }
echo
echo "| ${mib} MiB CSV, 64 MiB line-aligned chunks | MB/s | peak RSS |"
echo "|---|---|---|"
echo "| curl, one stream (presigned) | $(mbps "$tc") | - |"
echo "| quarry count_records, $threads threads | $(mbps "$tq") | $((rss_kib / 1024)) MiB |"
echo
echo "ratio quarry/curl: $(echo "scale=2; $tc / $tq" | bc -l); records: $got (all counted once)"
