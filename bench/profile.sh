#!/usr/bin/env bash
# CPU profiles of the hot paths with callgrind (instruction counts; the VM this project is
# developed on gives perf no usable hardware or timer samples):
#   (1) a CSV scan in line-aligned chunks: line search, copies, buffer handling;
#   (2) a recursive listing of 10,000 keys: XML parsing, listing fan-out;
#   (3) 1,000 small GETs (quarry cp -r): request signing, HTTP, the client's per-request cost.
# Writes bench/profiles/profile-{csv,list,small}.txt (the top functions by own instructions)
# and prints the top lines of each.
#
#   bench/profile.sh           # needs scripts/test-servers start and a release build
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${QUARRY_BIN:-build/release/quarry}
EX=${EXAMPLE_BIN:-build/release/count_records}
eval "$(scripts/test-servers env)"
out=bench/profiles
mkdir -p "$out"
work=$(mktemp -d)
bucket="quarry-profile-$$"
trap '"$Q" rb --force "s3://$bucket" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$Q" mb "s3://$bucket" >/dev/null

# Data: a 128 MiB CSV, 10,000 empty keys in 10 sub-prefixes, 1,000 objects of 32 KiB.
awk 'BEGIN { srand(7); while (n < 1048576) { l = sprintf("%d,%s,%d.%02d\n", NR++, substr("quarry-partitions-keep-every-line-whole", 1, 5 + int(rand() * 30)), int(rand() * 1000), int(rand() * 100)); printf "%s", l; n += length(l) } }' >"$work/block.csv"
for _ in $(seq 128); do cat "$work/block.csv"; done >"$work/data.csv"
"$Q" cp "$work/data.csv" "s3://$bucket/data.csv"
mkdir -p "$work/keys" "$work/small"
for d in $(seq 0 9); do
  mkdir -p "$work/keys/part-$d"
  (cd "$work/keys/part-$d" && seq -f "%07g" 1000 | xargs touch)
done
"$Q" cp -r "$work/keys" "s3://$bucket/keys/" >/dev/null
head -c 32768 /dev/urandom >"$work/one"
for i in $(seq -f "%04g" 1000); do cp "$work/one" "$work/small/$i"; done
"$Q" cp -r "$work/small" "s3://$bucket/small/" >/dev/null

profile() {  # name, command...
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.cg" "$@" >/dev/null 2>"$work/$name.err"
  callgrind_annotate --threshold=99 "$work/$name.cg" >"$work/$name.txt" 2>/dev/null
  awk '/^Ir/ { on = 1 } on && !/^-/ && n++ < 25' "$work/$name.txt" >"$out/profile-$name.txt"
  echo "== $name: $*"
  awk 'NR <= 14' "$out/profile-$name.txt"
}

profile csv "$EX" "s3://$bucket/data.csv" $((16 << 20)) 2
profile list "$Q" ls -r "s3://$bucket/keys/"
profile small "$Q" cp -r "s3://$bucket/small/" "$work/down/"
