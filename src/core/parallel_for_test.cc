// ParallelFor: every index once, the first error by index whichever call fails first, no calls
// started after an error, and the caller's request counters on every thread.
#include "quarry/parallel_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "quarry/request_counters.h"

namespace quarry {
namespace {

TEST(ParallelForTest, RunsEveryIndexOnceOnUpToThreadsThreads) {
  std::vector<std::atomic<int>> calls(1000);
  std::mutex mu;
  std::set<std::thread::id> threads;
  ASSERT_TRUE(ParallelFor(calls.size(), 3, [&](size_t i) {
                ++calls[i];
                std::lock_guard<std::mutex> lock(mu);
                threads.insert(std::this_thread::get_id());
                return Status::Ok();
              }).ok());
  for (size_t i = 0; i < calls.size(); ++i) ASSERT_EQ(calls[i].load(), 1) << i;
  EXPECT_LE(threads.size(), 3u);

  bool called = false;
  EXPECT_TRUE(ParallelFor(0, 4, [&](size_t) {
                called = true;
                return Status::Ok();
              }).ok());
  EXPECT_FALSE(called);
  const std::thread::id caller = std::this_thread::get_id();
  int on_caller = 0;
  EXPECT_TRUE(ParallelFor(5, 0,
                          [&](size_t) {  // no threads asked for: the caller runs them
                            if (std::this_thread::get_id() != caller)
                              return Internal("on another thread");
                            ++on_caller;
                            return Status::Ok();
                          })
                  .ok());
  EXPECT_EQ(on_caller, 5);
}

// All eight calls run at once (each waits for the others to start); index 6 fails first, index 2
// later: the error returned is index 2's, and every thread counted into the caller's counters.
TEST(ParallelForTest, ReturnsTheFirstErrorByIndexAndCarriesTheCallersCounters) {
  constexpr size_t kCalls = 8;
  auto counters = std::make_shared<RequestCounters>();
  CountRequestsInto scope(counters);
  std::atomic<size_t> started{0};
  std::atomic<int> foreign_counters{0};
  Status s = ParallelFor(kCalls, kCalls, [&](size_t i) -> Status {
    ++started;
    while (started.load() < kCalls) std::this_thread::yield();
    if (CurrentRequestCounters() != counters.get()) ++foreign_counters;
    if (i == 6) return Internal("call 6 failed");
    if (i == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return Internal("call 2 failed");
    }
    return Status::Ok();
  });
  EXPECT_EQ(s.message(), "call 2 failed");
  EXPECT_EQ(foreign_counters.load(), 0);
}

TEST(ParallelForTest, StartsNoCallAfterAnError) {
  std::atomic<size_t> highest{0};
  Status s = ParallelFor(1000, 1, [&](size_t i) -> Status {
    highest = i;
    return i == 10 ? Internal("call 10 failed") : Status::Ok();
  });
  EXPECT_EQ(s.message(), "call 10 failed");
  EXPECT_EQ(highest.load(), 10u);
}

}  // namespace
}  // namespace quarry
