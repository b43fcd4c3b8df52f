#include "quarry/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "quarry/request_counters.h"

namespace quarry {

Status ParallelFor(size_t count, int threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  size_t first_bad = count;
  Status first_status;
  auto worker = [&] {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_bad) {
          first_bad = i;
          first_status = s;
        }
        failed = true;
      }
    }
  };
  const size_t n = std::min<size_t>(count, static_cast<size_t>(std::max(1, threads)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) {
    pool.emplace_back([&worker, counters = CurrentRequestCountersShared()] {
      CountRequestsInto count(counters);
      worker();
    });
  }
  if (n > 0) worker();
  for (auto& t : pool) t.join();
  return first_status;
}

}  // namespace quarry
