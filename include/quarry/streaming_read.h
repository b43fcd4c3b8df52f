// StreamingRead: one ranged read on a thread of its own whose bytes are consumed in order while
// the rest still arrives, through a buffer of the whole range or a ring of bounded size. What
// the read shares with its thread (the buffer, the progress, the thread itself) is defined in
// the .cc: callers see only the read's interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "quarry/object_store.h"

namespace quarry {

// One ranged read running on a thread of its own, whose bytes can be consumed in order while the
// rest is still arriving. A retried read does not disturb bytes already received: the retry's
// copy of them is skipped (pin an ETag in `options` so they are the same).
//
// With `window` = 0 the whole range is buffered and views stay valid as long as the object. With
// a window, the buffer is a ring of that many bytes: the reading thread waits while the ring is
// full (the server is held back by TCP flow control), so one request can cover a range of any
// length in bounded memory, and views are valid only until the next call to Next().
//
// The buffer's memory comes from a process-wide pool (at most 128 MiB kept idle, and buffers idle
// for more than 10 s are freed when the pool is next used): fresh multi-MiB allocations cost a
// page fault per 4 KiB page on first touch, which measured as a large share of a scan's CPU.
// Large buffers are backed by transparent huge pages where the kernel allows.
class StreamingRead {
 public:
  // A good `batch` for Next() while the read is still arriving: enough to keep wakeups rare,
  // little enough that the bytes are still in cache when the consumer reads them.
  static constexpr size_t kConsumeBatch = size_t{512} * 1024;

  // Starts reading [offset, offset+length) (`length` finite). `store` must outlive this object.
  // With `here`, the read runs to its end on the calling thread before the constructor returns
  // (no thread of its own; for small reads the caller would wait for anyway); `window` is then
  // ignored, as the buffer must hold the whole range.
  StreamingRead(ObjectStore& store, std::string_view bucket, std::string_view key, uint64_t offset,
                uint64_t length, const ReadOptions& options, size_t window = 0, bool here = false);
  ~StreamingRead();  // abandons the read if it still runs, and waits for its thread
  StreamingRead(const StreamingRead&) = delete;
  StreamingRead& operator=(const StreamingRead&) = delete;

  uint64_t offset() const;
  uint64_t length() const;
  // The response's Content-Encoding ("" when none, or before any byte arrived).
  std::string content_encoding() const;
  // Keeps the memory that Next()'s views point into allocated while held, also after this
  // object is gone (its bytes are only meaningful as Next() says).
  std::shared_ptr<const void> buffer_owner() const { return state_; }

  // The bytes received past the first `from` ones (the caller is done with those: a ring may
  // reuse their room), once there are at least `batch` of them (or as many as the ring can hold
  // contiguously) or the read has ended. Empty when the read ended at `from` (short of length()
  // if the object ended first). The read's error if it failed. `from` never decreases.
  Result<std::string_view> Next(uint64_t from, size_t batch);

  // What the read shares with its thread (defined in streaming_read.cc).
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace quarry
