// LocalExecutor: runs a function over a plan's partitions on a pool of threads.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "quarry/plan.h"
#include "quarry/status.h"

namespace quarry {

struct LocalExecutorOptions {
  int threads = 0;  // 0: the number of hardware threads
};

class LocalExecutor {
 public:
  explicit LocalExecutor(LocalExecutorOptions options = {}) : options_(options) {}

  // Calls fn(partition) for every partition of `plan`, up to `threads` at once, while the plan
  // is still listing. Returns the results in plan order, or the first failure (in plan order)
  // with the partition's uri and part in its message. After a failure no new calls start.
  template <typename T>
  Result<std::vector<T>> Map(Plan& plan, const std::function<Result<T>(Partition&)>& fn);

 private:
  LocalExecutorOptions options_;
};

template <typename T>
Result<std::vector<T>> LocalExecutor::Map(Plan& plan,
                                          const std::function<Result<T>(Partition&)>& fn) {
  std::mutex mu;  // guards plan, results, failure
  std::vector<std::optional<T>> results;
  Status failure;
  size_t failure_index = SIZE_MAX;
  bool done = false;
  auto worker = [&] {
    while (true) {
      Partition p;
      size_t index = 0;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (done || !failure.ok()) return;
        auto next = plan.Next(&p);
        if (!next.ok()) {
          if (results.size() < failure_index) {
            failure = next.status();
            failure_index = results.size();
          }
          return;
        }
        if (!*next) {
          done = true;
          return;
        }
        index = results.size();
        results.emplace_back();
      }
      Result<T> r = fn(p);
      std::lock_guard<std::mutex> lock(mu);
      if (r.ok()) {
        results[index] = std::move(r).value();
      } else if (index < failure_index) {
        failure = r.status().WithContext("partition " + std::to_string(p.part) + " of " + p.uri);
        failure_index = index;
      }
    }
  };
  int n = options_.threads > 0
              ? options_.threads
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!failure.ok()) return failure;
  std::vector<T> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

}  // namespace quarry
