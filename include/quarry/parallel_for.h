// ParallelFor: runs the calls of an index range on a few threads and reports the first error by
// index. Its threads count their requests into the caller's request counters
// (quarry/request_counters.h), so work split over them is still counted as the caller's.
#pragma once

#include <cstddef>
#include <functional>

#include "quarry/status.h"

namespace quarry {

// Runs fn(i) for i in [0, count) on up to `threads` threads; returns the first error (by index)
// after all started calls end. No new calls start after an error.
Status ParallelFor(size_t count, int threads, const std::function<Status(size_t)>& fn);

}  // namespace quarry
