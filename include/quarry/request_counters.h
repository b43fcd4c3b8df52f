// Request counters of one piece of work (a job, a task), whichever store, client or thread of
// Quarry makes its requests.
//
// A thread counts into the counters of the innermost CountRequestsInto alive on it; the threads
// Quarry starts for a piece of work (a stream's readahead, parallel ranged reads, upload parts,
// fan-out listing) take the counters of the thread that started them. Every HTTP request is also
// counted in its client's own totals (ObjectStore::stats()), whatever the scope.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace quarry {

struct RequestCounters {
  std::atomic<uint64_t> requests{0};  // attempts sent, retries included
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> bytes_received{0};  // of response bodies
  std::atomic<uint64_t> bytes_sent{0};      // of request bodies
  std::atomic<uint64_t> connections_opened{0};
};

// A reading of RequestCounters at one moment, field for field (what ObjectStore::stats gives).
struct RequestCounts {
  uint64_t requests = 0;
  uint64_t retries = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t connections_opened = 0;

  RequestCounts& operator+=(const RequestCounts& other);
};

RequestCounts ReadCounts(const RequestCounters& counters);

// Calls fn(name, value) for every count ("requests", "retries", ...), in the order above: the
// one list of the counters' names, which reports go through.
void ForEachCount(const RequestCounts& counts,
                  const std::function<void(const char* name, uint64_t value)>& fn);

// The counters this thread counts into; null when none.
RequestCounters* CurrentRequestCounters();
// The same, kept alive: what a thread started for this work passes to CountRequestsInto.
std::shared_ptr<RequestCounters> CurrentRequestCountersShared();

// Makes `counters` (null: none) those this thread counts into; returns the previous ones. For
// callers that cannot keep a CountRequestsInto on the stack (a binding's enter and exit).
std::shared_ptr<RequestCounters> SwapRequestCounters(std::shared_ptr<RequestCounters> counters);

// While alive, requests made on this thread count into `counters` (null: into none), then the
// thread's previous counters are restored. Lives on the stack of one thread.
class CountRequestsInto {
 public:
  explicit CountRequestsInto(std::shared_ptr<RequestCounters> counters);
  ~CountRequestsInto();
  CountRequestsInto(const CountRequestsInto&) = delete;
  CountRequestsInto& operator=(const CountRequestsInto&) = delete;

 private:
  std::shared_ptr<RequestCounters> previous_;
};

}  // namespace quarry
