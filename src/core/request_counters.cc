#include "quarry/request_counters.h"

#include <utility>

namespace quarry {
namespace {

// The shared pointer keeps the counters alive; the raw one is what the hot path reads.
thread_local std::shared_ptr<RequestCounters> current_shared;
thread_local RequestCounters* current = nullptr;

// Every counter once: its name, its field in a reading, its counter.
struct CountField {
  const char* name;
  uint64_t RequestCounts::*count;
  std::atomic<uint64_t> RequestCounters::*counter;
};
constexpr CountField kCountFields[] = {
    {"requests", &RequestCounts::requests, &RequestCounters::requests},
    {"retries", &RequestCounts::retries, &RequestCounters::retries},
    {"bytes_received", &RequestCounts::bytes_received, &RequestCounters::bytes_received},
    {"bytes_sent", &RequestCounts::bytes_sent, &RequestCounters::bytes_sent},
    {"connections_opened", &RequestCounts::connections_opened,
     &RequestCounters::connections_opened},
};

}  // namespace

RequestCounts& RequestCounts::operator+=(const RequestCounts& other) {
  for (const auto& f : kCountFields) this->*f.count += other.*f.count;
  return *this;
}

RequestCounts ReadCounts(const RequestCounters& counters) {
  RequestCounts counts;
  for (const auto& f : kCountFields) counts.*f.count = (counters.*f.counter).load();
  return counts;
}

void ForEachCount(const RequestCounts& counts,
                  const std::function<void(const char* name, uint64_t value)>& fn) {
  for (const auto& f : kCountFields) fn(f.name, counts.*f.count);
}

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
