#!/usr/bin/env bash
# Storage I/O benchmark: Quarry's CLI against curl (presigned URLs) and the aws CLI, in one run,
# on the local RGW. Prints a table and the ratios.
#
#   bench/storage_io.sh            # 1,000 x 64 KiB objects and one 512 MiB object
#   bench/storage_io.sh --smoke    # 100 x 64 KiB and 32 MiB, for a quick check
#
# Needs: a built quarry (build/release/quarry), scripts/test-servers start, curl, aws.
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${QUARRY_BIN:-build/release/quarry}
small_count=1000
large_mib=512
runs=3
if [ "${1:-}" = "--smoke" ]; then small_count=100; large_mib=32; runs=1; fi

eval "$(scripts/test-servers env)"
export AWS_MAX_ATTEMPTS=3
work=$(mktemp -d)
bucket="quarry-bench-$$"
cleanup() { "$Q" rb --force "s3://$bucket" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
# best_of N CMD... : fastest wall time of N runs, in seconds
best_of() {
  local n=$1; shift
  local best="" t0 t
  for _ in $(seq "$n"); do
    t0=$(now); "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; exit 1; }
    t=$(elapsed "$t0")
    if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
  done
  echo "$best"
}

echo "== preparing: $small_count x 64 KiB objects and one $large_mib MiB object in s3://$bucket"
"$Q" mb "s3://$bucket"
mkdir -p "$work/small"
for i in $(seq -w 1 "$small_count"); do head -c 65536 /dev/urandom >"$work/small/obj-$i"; done
"$Q" cp -r "$work/small" "s3://$bucket/small" >/dev/null
head -c $((large_mib << 20)) /dev/urandom >"$work/large.bin"
"$Q" cp "$work/large.bin" "s3://$bucket/large.bin"
rm -f "$work/large.bin"
"$Q" ls -r "s3://$bucket/small/" | awk '{print "s3://'"$bucket"'/"$4}' >"$work/small.uris"
"$Q" presign --stdin <"$work/small.uris" >"$work/small.urls"
large_url=$("$Q" presign "s3://$bucket/large.bin")

# Large object: bytes to /dev/null (quarry cat writes a file or /dev/null in place, parts in any
# order), and through a pipe (bytes must leave in order).
quarry_large() { "$Q" cat "s3://$bucket/large.bin" >/dev/null; }
curl_large() { curl -sf -o /dev/null "$large_url"; }
aws_large() { aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://$bucket/large.bin" - >/dev/null; }
quarry_pipe() { "$Q" cat "s3://$bucket/large.bin" | cat >/dev/null; }
curl_pipe() { curl -sf "$large_url" | cat >/dev/null; }
aws_pipe() { aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "s3://$bucket/large.bin" - | cat >/dev/null; }

# Small objects: every object downloaded to a local directory.
quarry_small() { rm -rf "$work/q"; "$Q" cp -r "s3://$bucket/small/" "$work/q"; }
curl_small() {
  rm -rf "$work/c"; mkdir -p "$work/c"
  (cd "$work/c" && awk '{print "url = \"" $0 "\"\noutput = \"o" NR "\""}' "$work/small.urls" |
    curl -sf --parallel --parallel-max 16 -K -)
}
aws_small() { rm -rf "$work/a"; aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --recursive --quiet "s3://$bucket/small/" "$work/a"; }

echo "== large object ($large_mib MiB), best of $runs"
tq=$(best_of "$runs" quarry_large); tc=$(best_of "$runs" curl_large); ta=$(best_of "$runs" aws_large)
pq=$(best_of "$runs" quarry_pipe); pc=$(best_of "$runs" curl_pipe); pa=$(best_of "$runs" aws_pipe)
echo "== small objects ($small_count x 64 KiB), best of $runs"
sq=$(best_of "$runs" quarry_small); sc=$(best_of "$runs" curl_small); sa=$(best_of "$runs" aws_small)

# Correctness of what was timed: the copies hold every byte.
diff -r "$work/small" "$work/q" >/dev/null || { echo "bench: quarry copy differs" >&2; exit 1; }

mbps() { echo "scale=0; $large_mib * 1048576 / $1 / 1000000" | bc -l; }
ops() { echo "scale=0; $small_count / $1" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
printf '\n| workload | quarry | curl (presigned) | aws CLI | quarry/curl | quarry/aws |\n'
printf '|---|---|---|---|---|---|\n'
printf '| %s MiB object, MB/s | %s | %s | %s | %s | %s |\n' "$large_mib" "$(mbps "$tq")" "$(mbps "$tc")" \
  "$(mbps "$ta")" "$(ratio "$tc" "$tq")" "$(ratio "$ta" "$tq")"
printf '| %s MiB object through a pipe, MB/s | %s | %s | %s | %s | %s |\n' "$large_mib" "$(mbps "$pq")" \
  "$(mbps "$pc")" "$(mbps "$pa")" "$(ratio "$pc" "$pq")" "$(ratio "$pa" "$pq")"
printf '| %s x 64 KiB, objects/s | %s | %s | %s | %s | %s |\n' "$small_count" "$(ops "$sq")" "$(ops "$sc")" \
  "$(ops "$sa")" "$(ratio "$sc" "$sq")" "$(ratio "$sa" "$sq")"
echo
echo "curl large = one stream; curl small = 16 parallel transfers; ratios > 1 mean quarry is faster."
