// Counts the records of CSV (or any line-oriented) objects in object storage, in line-aligned
// chunks read in parallel on the local executor.
//
//   count_records s3://bucket/logs/ [chunk_size_bytes] [threads] [part_size_bytes] [readahead]
//                 [read_window_bytes]
//
// Every record is counted exactly once, however the chunks cut the objects.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "quarry/data_stream.h"
#include "quarry/local_executor.h"
#include "quarry/plan.h"

namespace {

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s URI [chunk_size_bytes] [threads] [part_size_bytes] [readahead] "
                 "[read_window_bytes]\n",
                 argv[0]);
    return 2;
  }
  quarry::PlanOptions options;
  options.chunk_size = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 64ull << 20;
  options.newline = "\n";
  if (argc > 4) options.part_size = std::strtoull(argv[4], nullptr, 10);
  if (argc > 5) options.readahead = std::atoi(argv[5]);
  if (argc > 6) options.read_window = std::strtoull(argv[6], nullptr, 10);
  auto plan = quarry::Plan::Build({argv[1]}, options);
  if (!plan.ok()) {
    std::fprintf(stderr, "count_records: %s\n", plan.status().message().c_str());
    return 1;
  }
  quarry::LocalExecutor exec({.threads = argc > 3 ? std::atoi(argv[3]) : 2});
  auto counts = exec.Map<uint64_t>(*plan, [](quarry::Partition& obj) -> quarry::Result<uint64_t> {
    QUARRY_ASSIGN_OR_RETURN(auto stream, obj.Open());
    // Scanned where the bytes were received, never copied out.
    return stream->CountRecords();
  });
  if (!counts.ok()) {
    std::fprintf(stderr, "count_records: %s\n", counts.status().message().c_str());
    return 1;
  }
  uint64_t total = 0;
  for (uint64_t c : *counts) total += c;
  std::printf("%llu records in %zu partitions\n", static_cast<unsigned long long>(total),
              counts->size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "count_records: %s\n", e.what());
    return 1;
  }
}
