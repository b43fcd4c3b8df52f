#!/usr/bin/env bash
# Runs examples/count_records against RGW (or local files without it) and checks the count.
set -euo pipefail
EX=${EXAMPLE_BIN:?}
Q=${QUARRY_BIN:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 200,000 records of varying length, the last without a newline.
awk 'BEGIN { for (i = 0; i < 200000; i++) { printf "%d,%s", i, substr("abcdefghijklmnopqrstuvwxyz", 1, i % 27); if (i < 199999) printf "\n" } }' >"$work/data.csv"
if [ "${QUARRY_TEST_S3:-}" = 1 ]; then
  b="quarry-example-$$"
  "$Q" mb "s3://$b"
  trap '"$Q" rb --force "s3://$b" >/dev/null 2>&1; rm -rf "$work"' EXIT
  "$Q" cp "$work/data.csv" "s3://$b/logs/data.csv"
  uri="s3://$b/logs/"
else
  uri="$work/data.csv"
fi
for chunk in 1000 65536 10000000; do
  out=$("$EX" "$uri" "$chunk" 4)
  echo "chunk $chunk: $out"
  case "$out" in "200000 records in "*) ;; *) echo "FAIL: expected 200000 records"; exit 1 ;; esac
done
echo "1 passed, 0 failed"
