#include "quarry/streaming_read.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "quarry/request_counters.h"
#include "quarry/sinks.h"
#include "storage/read_buffer.h"

namespace quarry {

struct StreamingRead::State {
  State(std::string_view bucket, std::string_view key, uint64_t offset, uint64_t length,
        const ReadOptions& options, size_t window)
      : bucket(bucket),
        key(key),
        offset(offset),
        length(length),
        options(options),
        capacity(std::max<uint64_t>(1, window == 0 ? length : std::min<uint64_t>(length, window))),
        buf(static_cast<size_t>(capacity)) {}

  const std::string bucket, key;
  const uint64_t offset, length;
  const ReadOptions options;
  const uint64_t capacity;  // of the ring; byte i of the range lives at buf[i % capacity]
  ReadBuffer buf;
  std::atomic<bool> cancelled{false};
  // Progress without a lock on the writer's path: bytes [0, filled) of the range have arrived.
  // The consumer, about to sleep, sets wake_at (then checks filled); the writer, having advanced
  // filled, checks wake_at and wakes it (both sequentially consistent, so one sees the other).
  std::atomic<uint64_t> filled{0};
  std::atomic<uint64_t> wake_at{UINT64_MAX};
  // Bytes the consumer is done with; the writer may reuse their room. Written under mu.
  std::atomic<uint64_t> released{0};
  std::mutex mu;
  std::condition_variable cv;        // the consumer waits here for data
  std::condition_variable cv_space;  // the writer waits here for room in the ring
  // While the writer waits for room: the `released` it waits for (guarded by mu), else 0.
  uint64_t writer_waits_for = 0;
  bool done = false;             // guarded by mu
  Status status;                 // guarded by mu; the read's outcome once done
  std::string content_encoding;  // guarded by mu; as the response said
  std::thread thread;            // the read's own, unless it ran on the constructor's thread
};

namespace {

// Puts a StreamingRead's body into its ring (received there in place where the backend can,
// else copied by Write) and publishes the progress, waiting for room when the ring is full. A retry
// sends the range again from its first byte: what already arrived is skipped, not rewritten.
class StreamingSink final : public ReadSink {
 public:
  explicit StreamingSink(StreamingRead::State* state) : state_(state) {}

  Status Write(const char* data, size_t size) override {
    const size_t skip = static_cast<size_t>(std::min<uint64_t>(skip_, size));
    skip_ -= skip;
    return CopyIntoRooms(*this, data + skip, size - skip);
  }

  bool ReceivesInPlace() const override { return true; }

  // The ring's free room after what arrived, waiting while it is full. A retried read first
  // resends what already arrived: that goes to a scratch buffer and is dropped.
  Result<std::span<char>> Room() override {
    StreamingRead::State& st = *state_;
    if (st.cancelled.load(std::memory_order_relaxed)) return Cancelled();
    if (skip_ > 0) {
      scratch_.resize(kScratch);
      return std::span<char>(scratch_.data(),
                             static_cast<size_t>(std::min<uint64_t>(skip_, kScratch)));
    }
    if (written_ == st.length) return Internal("read returned more bytes than requested");
    for (;;) {
      const uint64_t room = st.capacity - (written_ - st.released.load());
      if (room > 0) {
        const uint64_t at = written_ % st.capacity;
        const auto n =
            static_cast<size_t>(std::min<uint64_t>({room, st.capacity - at, st.length - written_}));
        return std::span<char>(st.buf.data() + at, n);
      }
      // The ring is full: wait for a good piece of room, not the first byte of it (resuming on
      // every small release would receive in small pieces, with a wakeup each). The consumer
      // never waits for more than capacity - capacity/4 bytes, so it cannot wait on this.
      const uint64_t wanted = written_ + ResumeRoom() - st.capacity;
      std::unique_lock<std::mutex> lock(st.mu);
      st.writer_waits_for = wanted;
      st.cv_space.wait(lock, [&] { return st.cancelled.load() || st.released.load() >= wanted; });
      st.writer_waits_for = 0;
      if (st.cancelled.load()) return Cancelled();
    }
  }

  // The room worth resuming for: a quarter of the ring (at most a consume batch), or what is
  // left of the range; at least one byte.
  uint64_t ResumeRoom() const {
    const StreamingRead::State& st = *state_;
    return std::max<uint64_t>(1, std::min<uint64_t>({st.capacity / 4, StreamingRead::kConsumeBatch,
                                                     st.length - written_}));
  }

  Status Commit(size_t size) override {
    if (skip_ > 0) {
      skip_ -= std::min<uint64_t>(skip_, size);
      return Status::Ok();
    }
    StreamingRead::State& st = *state_;
    written_ += size;
    st.filled.store(written_);
    if (written_ >= st.wake_at.load()) {
      std::lock_guard<std::mutex> lock(st.mu);  // the consumer is waiting, or about to
      st.cv.notify_one();
    }
    return Status::Ok();
  }

  void Reset() override { skip_ = written_; }

  void OnObject(const ObjectInfo& info) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->content_encoding = info.content_encoding;
  }

  static Status Cancelled() { return Internal("read cancelled"); }

 private:
  static constexpr uint64_t kScratch = uint64_t{64} * 1024;

  StreamingRead::State* state_;
  uint64_t written_ = 0;  // this thread's copy of `filled`
  uint64_t skip_ = 0;     // bytes of a retried read that already arrived
  std::string scratch_;   // where a retry's resent bytes are received and dropped
};

}  // namespace

StreamingRead::StreamingRead(ObjectStore& store, std::string_view bucket, std::string_view key,
                             uint64_t offset, uint64_t length, const ReadOptions& options,
                             size_t window, bool here)
    : state_(std::make_shared<State>(bucket, key, offset, length, options, here ? 0 : window)) {
  auto run = [&store, state = state_, counters = CurrentRequestCountersShared()] {
    CountRequestsInto count(counters);
    StreamingSink sink(state.get());
    Status s = store
                   .ReadRange(state->bucket, state->key, state->offset, state->length, &sink,
                              state->options)
                   .status();
    std::lock_guard<std::mutex> lock(state->mu);
    state->status = std::move(s);
    state->done = true;
    state->cv.notify_one();
  };
  if (here) {
    run();
  } else {
    state_->thread = std::thread(std::move(run));
  }
}

StreamingRead::~StreamingRead() {
  state_->cancelled = true;  // a read still running is abandoned
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->cv_space.notify_all();
  }
  if (state_->thread.joinable()) state_->thread.join();
}

uint64_t StreamingRead::offset() const { return state_->offset; }
uint64_t StreamingRead::length() const { return state_->length; }

std::string StreamingRead::content_encoding() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->content_encoding;
}

Result<std::string_view> StreamingRead::Next(uint64_t from, size_t batch) {
  State& st = *state_;
  // Never more than the writer leaves when it waits for room (see StreamingSink::Room).
  const uint64_t want = std::min<uint64_t>(
      {from + std::max<size_t>(batch, 1), st.length, from + st.capacity - st.capacity / 4});
  std::unique_lock<std::mutex> lock(st.mu);
  if (from > st.released.load()) {
    st.released.store(from);
    if (st.writer_waits_for != 0 && from >= st.writer_waits_for) st.cv_space.notify_one();
  }
  if (!st.done && st.filled.load() < want) {
    st.wake_at.store(want);
    st.cv.wait(lock, [&] { return st.done || st.filled.load() >= want; });
    st.wake_at.store(UINT64_MAX);
  }
  if (st.done && !st.status.ok()) return st.status;
  const uint64_t filled = st.filled.load();
  if (filled <= from) return std::string_view();
  const uint64_t at = from % st.capacity;
  const uint64_t n = std::min(filled - from, st.capacity - at);
  return std::string_view(st.buf.data() + at, static_cast<size_t>(n));
}

}  // namespace quarry
