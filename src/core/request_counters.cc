#include "quarry/request_counters.h"

#include <utility>

namespace quarry {
namespace {

// The shared pointer keeps the counters alive; the raw one is what the hot path reads.
thread_local std::shared_ptr<RequestCounters> current_shared;
thread_local RequestCounters* current = nullptr;

}  // namespace

RequestCounters* CurrentRequestCounters() { return current; }

std::shared_ptr<RequestCounters> CurrentRequestCountersShared() { return current_shared; }

std::shared_ptr<RequestCounters> SwapRequestCounters(std::shared_ptr<RequestCounters> counters) {
  std::shared_ptr<RequestCounters> previous = std::exchange(current_shared, std::move(counters));
  current = current_shared.get();
  return previous;
}

CountRequestsInto::CountRequestsInto(std::shared_ptr<RequestCounters> counters)
    : previous_(SwapRequestCounters(std::move(counters))) {}

CountRequestsInto::~CountRequestsInto() { (void)SwapRequestCounters(std::move(previous_)); }

}  // namespace quarry
