// Counts the records and bytes under a prefix with the installed public API only (Plan,
// LocalExecutor, DataStream), for the package test (tests/package_test.sh).
//
//   count_prefix URI CHUNK_SIZE
//
// Prints "<records> records <bytes> bytes in <partitions> partitions"; exits 1 with the error
// on stderr when planning or reading fails.
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "quarry/data_stream.h"
#include "quarry/local_executor.h"
#include "quarry/plan.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s URI CHUNK_SIZE\n", argv[0]);
    return 2;
  }
  quarry::PlanOptions options;
  options.chunk_size = std::strtoull(argv[2], nullptr, 10);
  options.newline = "\n";
  auto plan = quarry::Plan::Build({argv[1]}, options);
  if (!plan.ok()) {
    std::fprintf(stderr, "count_prefix: %s\n", plan.status().message().c_str());
    return 1;
  }
  using Counts = std::pair<uint64_t, uint64_t>;  // records, bytes
  quarry::LocalExecutor executor({.threads = 2});
  auto counts = executor.Map<Counts>(*plan, [](quarry::Partition& p) -> quarry::Result<Counts> {
    QUARRY_ASSIGN_OR_RETURN(auto stream, p.Open());
    uint64_t bytes = 0;
    uint64_t records = 0;
    while (true) {
      QUARRY_ASSIGN_OR_RETURN(auto chunk, stream->ReadChunk());
      if (chunk.empty()) break;
      bytes += chunk.size();
      for (char c : chunk) records += c == '\n';
    }
    return Counts{records, bytes};
  });
  if (!counts.ok()) {
    std::fprintf(stderr, "count_prefix: %s\n", counts.status().message().c_str());
    return 1;
  }
  uint64_t records = 0;
  uint64_t bytes = 0;
  for (const auto& [r, b] : *counts) {
    records += r;
    bytes += b;
  }
  std::printf("%llu records %llu bytes in %zu partitions\n",
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes),
              counts->size());
  return 0;
}
