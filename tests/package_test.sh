#!/usr/bin/env bash
# The installed C++ package: `cmake --install` of the build tree into a temporary prefix, then a
# project outside the tree (tests/consumer) finds it with find_package(quarry), builds against
# it and counts the records and bytes under an s3:// prefix on the real RGW.
# Without QUARRY_TEST_S3=1 the install and the consumer's build still run; the S3 count is
# reported as skipped (exit 77).
set -euo pipefail
build_dir=${QUARRY_BUILD_DIR:?set QUARRY_BUILD_DIR to the configured and built tree to install}
Q=${QUARRY_BIN:?set QUARRY_BIN to the quarry binary}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log"
# The consumer is compiled as the package was (same compiler, same sanitizer flags).
if ! cmake -S "$here/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="${QUARRY_CXX_COMPILER:-c++}" -DCMAKE_CXX_FLAGS="${QUARRY_CXX_FLAGS:-}" \
  >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  echo "FAIL: the consumer project does not configure against the installed package"
  exit 1
fi
if ! cmake --build "$work/consumer" >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  echo "FAIL: the consumer project does not build against the installed package"
  exit 1
fi
count=$work/consumer/count_prefix
echo "installed to a temporary prefix; the consumer configured and built"

if [ "${QUARRY_TEST_S3:-}" != 1 ]; then
  echo "SKIPPED: the count over s3:// needs QUARRY_TEST_S3=1 and a server (scripts/test-servers)"
  exit 77
fi

# Three objects under data/ (one empty), records of varying length, and one object outside it
# that the count must not include.
mkdir -p "$work/data"
awk 'BEGIN { for (i = 0; i < 30000; i++) printf "%d,%s\n", i, substr("abcdefghijklmnopqrstuvwxyz", 1, i % 27) }' >"$work/data/a.csv"
awk 'BEGIN { for (i = 0; i < 777; i++) printf "row %d\n", i }' >"$work/data/b.csv"
: >"$work/data/empty.csv"
printf 'outside\nthe prefix\n' >"$work/other.csv"
records=$(cat "$work/data/"*.csv | wc -l)
bytes=$(cat "$work/data/"*.csv | wc -c)

bucket="quarry-package-$$-$RANDOM"
"$Q" mb "s3://$bucket" >/dev/null
trap '"$Q" rb --force "s3://$bucket" >/dev/null 2>&1 || true; cleanup' EXIT
for f in a.csv b.csv empty.csv; do "$Q" cp "$work/data/$f" "s3://$bucket/data/$f" >/dev/null; done
"$Q" cp "$work/other.csv" "s3://$bucket/other.csv" >/dev/null

passed=0
failed=0
for chunk in 1000 65536 100000000; do
  if ! out=$("$count" "s3://$bucket/data/" "$chunk" 2>&1); then
    echo "FAIL: chunk $chunk: $out"
    failed=$((failed + 1))
    continue
  fi
  echo "chunk $chunk: $out"
  case "$out" in
    "$records records $bytes bytes in "*) passed=$((passed + 1)) ;;
    *) echo "FAIL: chunk $chunk: expected $records records $bytes bytes"; failed=$((failed + 1)) ;;
  esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
