#include "quarry/store_util.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "quarry/request_counters.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define QUARRY_PLAIN_READ_BUFFERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define QUARRY_PLAIN_READ_BUFFERS 1
#endif
#endif

namespace quarry {
namespace {

// Buffers from 1 MiB up are mapped at huge page boundaries (so all but their last partial huge
// page can be huge pages) and pooled; smaller ones are plain heap memory. Under sanitizers every
// buffer is heap memory, so overflows are still caught.
#ifdef QUARRY_PLAIN_READ_BUFFERS
constexpr size_t kPooledMin = SIZE_MAX;
#else
constexpr size_t kPooledMin = size_t{1} << 20;
#endif
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPoolGranule = size_t{64} << 10;  // sizes round up to this
constexpr size_t kPoolMaxIdleBytes = size_t{128} << 20;
constexpr auto kPoolMaxIdleAge = std::chrono::seconds(10);

char* MapHugeAligned(size_t bytes) {
  const size_t span = bytes + kHugePage;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<char*>(p);
  const size_t lead = (kHugePage - reinterpret_cast<uintptr_t>(base) % kHugePage) % kHugePage;
  char* data = base + lead;
  if (lead > 0) munmap(base, lead);
  const size_t tail = span - lead - bytes;
  if (tail > 0) munmap(data + bytes, tail);
  (void)madvise(data, bytes, MADV_HUGEPAGE);  // a hint; fine where THP is off
  return data;
}

class BufferPool {
 public:
  // A buffer of at least *capacity bytes; sets *capacity to its real size.
  char* Take(size_t* capacity) {
    const size_t want = (*capacity + kPoolGranule - 1) / kPoolGranule * kPoolGranule;
    std::vector<Idle> expired;
    char* found = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Expire(&expired);
      // The smallest idle buffer that fits, unless it is much larger than needed.
      size_t best = idle_.size();
      for (size_t i = 0; i < idle_.size(); ++i) {
        if (idle_[i].capacity >= want && idle_[i].capacity <= 2 * want &&
            (best == idle_.size() || idle_[i].capacity < idle_[best].capacity)) {
          best = i;
        }
      }
      if (best < idle_.size()) {
        found = idle_[best].data;
        *capacity = idle_[best].capacity;
        idle_bytes_ -= idle_[best].capacity;
        idle_[best] = idle_.back();
        idle_.pop_back();
      }
    }
    for (auto& e : expired) munmap(e.data, e.capacity);
    if (found != nullptr) return found;
    *capacity = want;
    return MapHugeAligned(want);
  }

  void Give(char* data, size_t capacity) {
    std::vector<Idle> expired;
    bool kept = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Expire(&expired);
      if (idle_bytes_ + capacity <= kPoolMaxIdleBytes) {
        idle_.push_back({data, capacity, std::chrono::steady_clock::now()});
        idle_bytes_ += capacity;
        kept = true;
      }
    }
    for (auto& e : expired) munmap(e.data, e.capacity);
    if (!kept) munmap(data, capacity);
  }

 private:
  struct Idle {
    char* data;
    size_t capacity;
    std::chrono::steady_clock::time_point since;
  };

  void Expire(std::vector<Idle>* out) {
    const auto cutoff = std::chrono::steady_clock::now() - kPoolMaxIdleAge;
    for (size_t i = 0; i < idle_.size();) {
      if (idle_[i].since < cutoff) {
        idle_bytes_ -= idle_[i].capacity;
        out->push_back(idle_[i]);
        idle_[i] = idle_.back();
        idle_.pop_back();
      } else {
        ++i;
      }
    }
  }

  std::mutex mu_;
  std::vector<Idle> idle_;
  size_t idle_bytes_ = 0;
};

BufferPool& Pool() {
  static auto* pool = new BufferPool;  // never destroyed: threads may return buffers at exit
  return *pool;
}

// A byte buffer whose memory is recycled through the pool (large sizes) or the heap.
class ReadBuffer {
 public:
  explicit ReadBuffer(size_t capacity);  // room for `capacity` bytes, not initialised
  ~ReadBuffer();
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  char* data() const { return data_; }

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

ReadBuffer::ReadBuffer(size_t capacity) : capacity_(capacity) {
  if (capacity == 0) return;
  if (capacity >= kPooledMin) {
    data_ = Pool().Take(&capacity_);
  } else {
    data_ = new char[capacity];
  }
}

ReadBuffer::~ReadBuffer() {
  if (data_ == nullptr) return;
  if (capacity_ >= kPooledMin) {
    Pool().Give(data_, capacity_);
  } else {
    delete[] data_;
  }
}

}  // namespace

Status BufferSink::Write(const char* data, size_t size) {
  if (size > capacity_ - size_) {
    return Internal("read returned more bytes than requested");
  }
  std::memcpy(data_ + size_, data, size);
  size_ += size;
  return Status::Ok();
}

Result<std::span<char>> BufferSink::Room() {
  if (size_ == capacity_) return Internal("read returned more bytes than requested");
  return std::span<char>(data_ + size_, capacity_ - size_);
}

Status BufferSink::Commit(size_t size) {
  if (size > capacity_ - size_) return Internal("read returned more bytes than requested");
  size_ += size;
  return Status::Ok();
}

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
    thread_ = std::thread(std::move(run));
  }
}

StreamingRead::~StreamingRead() {
  state_->cancelled = true;  // a read still running is abandoned
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->cv_space.notify_all();
  }
  if (thread_.joinable()) thread_.join();
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

Status CopyIntoRooms(ReadSink& sink, const char* data, size_t size) {
  while (size > 0) {
    QUARRY_ASSIGN_OR_RETURN(std::span<char> room, sink.Room());
    const size_t n = std::min(size, room.size());
    std::memcpy(room.data(), data, n);
    QUARRY_RETURN_IF_ERROR(sink.Commit(n));
    data += n;
    size -= n;
  }
  return Status::Ok();
}

Result<std::string> ReadToString(ObjectStore& store, std::string_view bucket, std::string_view key,
                                 uint64_t offset, uint64_t length, const ReadOptions& options) {
  std::string out;
  if (length != UINT64_MAX && length <= (64ull << 20)) out.reserve(length);
  StringSink sink(&out);
  QUARRY_RETURN_IF_ERROR(store.ReadRange(bucket, key, offset, length, &sink, options).status());
  return out;
}

namespace {

// Pages of one sub-prefix, listed on a thread of its own, at most `ahead` pages in advance.
class SubListing {
 public:
  SubListing(ObjectStore& store, std::string bucket, std::string prefix, size_t ahead,
             int page_size)
      : ahead_(std::max<size_t>(1, ahead)) {
    ListOptions options;
    options.page_size = page_size;
    thread_ = std::thread([this, &store, bucket = std::move(bucket), prefix = std::move(prefix),
                           options, counters = CurrentRequestCountersShared()] {
      CountRequestsInto count(counters);
      Run(store, bucket, prefix, options);
    });
  }
  ~SubListing() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SubListing(const SubListing&) = delete;
  SubListing& operator=(const SubListing&) = delete;

  // The next page; false when the sub-prefix is done.
  Result<bool> Next(ListPage* page) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !pages_.empty() || done_; });
    if (!pages_.empty()) {
      *page = std::move(pages_.front());
      pages_.pop_front();
      cv_.notify_all();
      return true;
    }
    if (!status_.ok()) return status_;
    return false;
  }

 private:
  void Run(ObjectStore& store, const std::string& bucket, const std::string& prefix,
           const ListOptions& options) {
    Status status;
    auto lister = store.List(bucket, prefix, options);
    if (!lister.ok()) status = lister.status();
    while (status.ok()) {
      ListPage page;
      auto more = (*lister)->Next(&page);
      if (!more.ok()) status = more.status();
      if (!more.ok() || !*more) break;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return pages_.size() < ahead_ || cancelled_; });
      if (cancelled_) break;
      pages_.push_back(std::move(page));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }

  const size_t ahead_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ListPage> pages_;  // guarded by mu_, as are the three below
  bool done_ = false;
  bool cancelled_ = false;
  Status status_;
  std::thread thread_;
};

class FanOutLister final : public Lister {
 public:
  FanOutLister(ObjectStore& store, std::string bucket, std::string prefix, FanOutOptions options)
      : store_(store), bucket_(std::move(bucket)), prefix_(std::move(prefix)), options_(options) {}

  Result<bool> Next(ListPage* page) override {
    if (!started_) {
      started_ = true;
      QUARRY_ASSIGN_OR_RETURN(bool produced, Start(page));
      if (flat_) return produced;  // the plain listing's first page, if there was one
    }
    if (flat_) return flat_->Next(page);
    return NextSegment(page);
  }

 private:
  // One piece of the output in key order: objects directly under a level, or a sub-prefix.
  struct Segment {
    std::vector<ObjectInfo> objects;
    std::string prefix;  // non-empty: a sub-prefix, listed in parallel
  };

  // Lists the first plain page into `first` and decides: plain listing (flat_ set; returns
  // whether `first` holds a page) or fan-out (segments_ set).
  Result<bool> Start(ListPage* first) {
    ListOptions plain;
    plain.page_size = options_.page_size;
    QUARRY_ASSIGN_OR_RETURN(auto flat, store_.List(bucket_, prefix_, plain));
    QUARRY_ASSIGN_OR_RETURN(bool more, flat->Next(first));
    flat_ = std::move(flat);
    if (!more || first->objects.size() < static_cast<size_t>(plain.page_size)) return more;
    // A page full: probably many keys. Look for sub-prefixes, through lone ones.
    std::string level = prefix_;
    for (int depth = 0; depth < 8; ++depth) {
      ListOptions delimited;
      delimited.delimiter = "/";
      delimited.page_size = options_.page_size;
      QUARRY_ASSIGN_OR_RETURN(auto lister, store_.List(bucket_, level, delimited));
      ListPage dir;
      QUARRY_ASSIGN_OR_RETURN(bool any, lister->Next(&dir));
      if (!any) return true;
      const size_t entries = dir.objects.size() + dir.common_prefixes.size();
      if (entries >= static_cast<size_t>(delimited.page_size)) return true;  // > 1 page
      if (dir.common_prefixes.size() == 1 && dir.objects.empty()) {
        level = dir.common_prefixes[0];
        continue;
      }
      if (dir.common_prefixes.size() < 2 || dir.common_prefixes.size() > options_.max_prefixes) {
        return true;
      }
      BuildSegments(std::move(dir));
      flat_.reset();
      first->objects.clear();
      first->common_prefixes.clear();
      return true;
    }
    return true;
  }

  // Objects and sub-prefixes merged in key order: every key under a sub-prefix P sorts after P
  // and before any other string greater than P, so comparing with P itself places them.
  void BuildSegments(ListPage dir) {
    size_t o = 0;
    for (auto& p : dir.common_prefixes) {
      std::vector<ObjectInfo> before;
      while (o < dir.objects.size() && dir.objects[o].key < p) {
        before.push_back(std::move(dir.objects[o++]));
      }
      if (!before.empty()) segments_.push_back({std::move(before), {}});
      segments_.push_back({{}, std::move(p)});
    }
    std::vector<ObjectInfo> rest(std::make_move_iterator(dir.objects.begin() + o),
                                 std::make_move_iterator(dir.objects.end()));
    if (!rest.empty()) segments_.push_back({std::move(rest), {}});
  }

  // Keeps up to max_parallel sub-listings running from the current segment on.
  void Launch() {
    while (launched_ < segments_.size() &&
           running_.size() < static_cast<size_t>(std::max(1, options_.max_parallel))) {
      const Segment& s = segments_[launched_++];
      if (s.prefix.empty()) continue;
      running_.push_back(std::make_unique<SubListing>(store_, bucket_, s.prefix,
                                                      options_.pages_ahead, options_.page_size));
    }
  }

  Result<bool> NextSegment(ListPage* page) {
    page->objects.clear();
    page->common_prefixes.clear();
    while (next_ < segments_.size()) {
      Launch();
      Segment& s = segments_[next_];
      if (s.prefix.empty()) {
        page->objects = std::move(s.objects);
        ++next_;
        return true;
      }
      QUARRY_ASSIGN_OR_RETURN(bool more, running_.front()->Next(page));
      if (more) return true;
      running_.pop_front();
      ++next_;
    }
    return false;
  }

  ObjectStore& store_;
  std::string bucket_, prefix_;
  FanOutOptions options_;
  bool started_ = false;
  std::unique_ptr<Lister> flat_;  // set: plain listing
  std::vector<Segment> segments_;
  size_t next_ = 0;                                  // segment being handed out
  size_t launched_ = 0;                              // segments looked at by Launch()
  std::deque<std::unique_ptr<SubListing>> running_;  // of segments [next_, launched_), in order
};

}  // namespace

Result<std::unique_ptr<Lister>> ListFanOut(ObjectStore& store, std::string_view bucket,
                                           std::string_view prefix, const FanOutOptions& options) {
  return std::unique_ptr<Lister>(
      new FanOutLister(store, std::string(bucket), std::string(prefix), options));
}

Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, std::string_view bucket,
                                        std::string_view prefix, const ListOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(auto lister, store.List(bucket, prefix, options));
  std::vector<ObjectInfo> all;
  ListPage page;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    if (!more) break;
    for (auto& o : page.objects) all.push_back(std::move(o));
  }
  return all;
}

Result<uint64_t> DeletePrefix(ObjectStore& store, std::string_view bucket,
                              std::string_view prefix) {
  QUARRY_ASSIGN_OR_RETURN(auto lister, store.List(bucket, prefix, {}));
  uint64_t count = 0;
  ListPage page;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    if (!more) break;
    std::vector<std::string> keys;
    keys.reserve(page.objects.size());
    for (auto& o : page.objects) {
      // Never a key the listing should not have given: deleting reaches only the prefix.
      if (o.key.starts_with(prefix)) keys.push_back(std::move(o.key));
    }
    if (keys.empty()) continue;
    QUARRY_RETURN_IF_ERROR(store.DeleteObjects(bucket, keys));
    count += keys.size();
  }
  return count;
}

namespace {

// The first read of ReadObjectInto. The reply's first bytes go straight to the caller's memory,
// allocated when they arrive, from the object's size the reply told (OnObject) just before; a
// store that tells nothing has them staged instead, for ReadObjectInto to place after a Head.
class FirstReadSink final : public ReadSink {
 public:
  // `length` bytes asked for from `start`, at most `limit` wanted (UINT64_MAX: to the end).
  FirstReadSink(uint64_t start, uint64_t length, uint64_t limit, const AllocateForRead& allocate)
      : start_(start), length_(length), limit_(limit), allocate_(allocate) {}

  bool ReceivesInPlace() const override { return true; }
  void OnObject(const ObjectInfo& info) override { info_ = info; }
  Status Write(const char* data, size_t size) override { return CopyIntoRooms(*this, data, size); }
  void Reset() override { size_ = 0; }

  Result<std::span<char>> Room() override {
    if (dest_ == nullptr) QUARRY_RETURN_IF_ERROR(Place());
    if (info_ && placed_ && info_->size != placed_for_size_) {
      // A retry reached another version of the object than the memory was sized for.
      return Status(StatusCode::kPreconditionFailed,
                    "the object changed while it was being read: rerun on the new version");
    }
    if (size_ == capacity_) return Internal("read returned more bytes than requested");
    return std::span<char>(dest_ + size_, static_cast<size_t>(capacity_ - size_));
  }
  Status Commit(size_t size) override {
    if (size > capacity_ - size_) return Internal("read returned more bytes than requested");
    size_ += size;
    return Status::Ok();
  }

  // Bytes the range holds in an object of `object_size`.
  uint64_t RangeIn(uint64_t object_size) const {
    return object_size > start_ ? std::min(limit_, object_size - start_) : 0;
  }

  const std::optional<ObjectInfo>& info() const { return info_; }
  bool placed() const { return placed_; }  // dest() is the caller's memory
  char* dest() const { return dest_; }
  uint64_t size() const { return size_; }  // received
  uint64_t total() const { return total_; }

 private:
  Status Place() {
    if (!info_) {
      staging_.resize(static_cast<size_t>(length_));
      dest_ = staging_.data();
      capacity_ = length_;
      return Status::Ok();
    }
    total_ = RangeIn(info_->size);
    QUARRY_ASSIGN_OR_RETURN(dest_, allocate_(total_));
    placed_ = true;
    placed_for_size_ = info_->size;
    capacity_ = std::min(length_, total_);
    return Status::Ok();
  }

  const uint64_t start_, length_, limit_;
  const AllocateForRead& allocate_;
  std::optional<ObjectInfo> info_;
  std::string staging_;
  char* dest_ = nullptr;
  uint64_t capacity_ = 0, size_ = 0, total_ = 0;
  bool placed_ = false;
  uint64_t placed_for_size_ = 0;
};

Status ChangedWhileRead(ObjectStore& store, std::string_view bucket, std::string_view key) {
  return Status(StatusCode::kPreconditionFailed,
                "read " + std::string(store.scheme()) + "://" + std::string(bucket) + "/" +
                    std::string(key) +
                    ": the object changed while it was being read (its size is not what the "
                    "first reply said): rerun on the new version");
}

}  // namespace

Result<uint64_t> ReadObjectInto(ObjectStore& store, std::string_view bucket, std::string_view key,
                                uint64_t start, std::optional<uint64_t> stop,
                                const ParallelReadOptions& options,
                                const AllocateForRead& allocate) {
  const uint64_t limit = stop ? (*stop > start ? *stop - start : 0) : UINT64_MAX;
  if (limit == 0) {
    QUARRY_RETURN_IF_ERROR(allocate(0).status());
    return uint64_t{0};
  }
  const uint64_t first = std::min(limit, std::max<uint64_t>(1, options.part_size));
  FirstReadSink sink(start, first, limit, allocate);
  QUARRY_ASSIGN_OR_RETURN(uint64_t got,
                          store.ReadRange(bucket, key, start, first, &sink, options.read));
  if (sink.dest() == nullptr) {  // no bytes: the range starts at or past the end
    QUARRY_RETURN_IF_ERROR(allocate(0).status());
    return uint64_t{0};
  }
  char* dest = sink.dest();
  uint64_t total = sink.total();
  ObjectInfo info = sink.info().value_or(ObjectInfo{});
  if (!sink.placed()) {
    // Staged: the size comes from the reply's length when the object ended, else from a Head.
    if (got < first) {
      total = got;
    } else {
      QUARRY_ASSIGN_OR_RETURN(info, store.Head(bucket, key));
      total = sink.RangeIn(info.size);
      if (total < got) return ChangedWhileRead(store, bucket, key);
    }
    QUARRY_ASSIGN_OR_RETURN(char* placed, allocate(total));
    if (got > 0) std::memcpy(placed, sink.dest(), static_cast<size_t>(got));
    dest = placed;
  } else if (got < std::min(first, total)) {
    return ChangedWhileRead(store, bucket, key);
  }
  if (got == total) return total;
  ParallelReadOptions rest = options;
  if (rest.read.if_match.empty()) rest.read.if_match = info.etag;
  rest.read.object_size = info.size;
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const uint64_t parts = (total - got - 1) / part + 1;
  QUARRY_RETURN_IF_ERROR(ParallelFor(parts, options.max_in_flight, [&](size_t i) -> Status {
    const uint64_t at = got + i * part, len = std::min(part, total - at);
    BufferSink placed(dest + at, static_cast<size_t>(len));
    QUARRY_ASSIGN_OR_RETURN(uint64_t n,
                            store.ReadRange(bucket, key, start + at, len, &placed, rest.read));
    if (n < len) return ChangedWhileRead(store, bucket, key);
    return Status::Ok();
  }));
  return total;
}

Result<std::string> ReadObject(ObjectStore& store, std::string_view bucket, std::string_view key,
                               uint64_t start, std::optional<uint64_t> stop,
                               const ParallelReadOptions& options) {
  std::string data;
  QUARRY_RETURN_IF_ERROR(
      ReadObjectInto(store, bucket, key, start, stop, options, [&](uint64_t size) -> Result<char*> {
        data.resize(static_cast<size_t>(size));
        return data.data();
      }).status());
  return data;
}

Result<uint64_t> ParallelRead(ObjectStore& store, std::string_view bucket, std::string_view key,
                              uint64_t offset, uint64_t length, const ParallelReadOptions& options,
                              const std::function<Status(std::string_view part)>& consume) {
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const size_t window = static_cast<size_t>(std::max(1, options.max_in_flight));
  // Part buffers come from the read buffer pool, so their memory is reused from part to part.
  std::deque<std::unique_ptr<StreamingRead>> in_flight;
  uint64_t next = 0;      // where the next read starts, relative to offset
  uint64_t consumed = 0;  // bytes handed to consume
  size_t from = 0;        // bytes of the first read in flight handed to consume
  while (true) {
    while (in_flight.size() < window && next < length) {
      const uint64_t len = std::min(part, length - next);
      in_flight.push_back(
          std::make_unique<StreamingRead>(store, bucket, key, offset + next, len, options.read));
      next += len;
    }
    if (in_flight.empty()) break;
    StreamingRead& head = *in_flight.front();
    QUARRY_ASSIGN_OR_RETURN(auto data, head.Next(from, StreamingRead::kConsumeBatch));
    if (!data.empty()) {
      from += data.size();
      consumed += data.size();
      QUARRY_RETURN_IF_ERROR(consume(data));
      continue;
    }
    // A short read means the object ended early (it shrank): stop rather than read holes.
    const bool short_read = from < head.length();
    in_flight.pop_front();
    from = 0;
    if (short_read) break;
  }
  return consumed;
}

Result<uint64_t> ParallelReadAt(
    ObjectStore& store, std::string_view bucket, std::string_view key, uint64_t offset,
    uint64_t length, const ParallelReadOptions& options,
    const std::function<Status(uint64_t position, std::string_view data)>& consume) {
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const uint64_t parts = length == 0 ? 0 : (length - 1) / part + 1;
  std::atomic<bool> failed{false};  // reads still running stop at their next bytes
  std::mutex mu;
  uint64_t end = length;  // guarded by mu

  class AtSink final : public ReadSink {
   public:
    AtSink(uint64_t start, const std::function<Status(uint64_t, std::string_view)>& consume,
           const std::atomic<bool>& failed)
        : start_(start), position_(start), consume_(consume), failed_(failed) {}
    Status Write(const char* data, size_t size) override {
      if (failed_.load(std::memory_order_relaxed)) return StreamingSink::Cancelled();
      Status s = consume_(position_, std::string_view(data, size));
      position_ += size;
      return s;
    }
    void Reset() override { position_ = start_; }

   private:
    uint64_t start_, position_;
    const std::function<Status(uint64_t, std::string_view)>& consume_;
    const std::atomic<bool>& failed_;
  };

  QUARRY_RETURN_IF_ERROR(ParallelFor(parts, options.max_in_flight, [&](size_t i) -> Status {
    const uint64_t start = i * part, len = std::min(part, length - i * part);
    AtSink sink(start, consume, failed);
    auto got = store.ReadRange(bucket, key, offset + start, len, &sink, options.read);
    if (!got.ok()) {
      // Only the first failure counts; reads it stopped report nothing of their own.
      if (failed.exchange(true)) return Status::Ok();
      return got.status();
    }
    if (*got < len) {
      std::lock_guard<std::mutex> lock(mu);
      end = std::min(end, start + *got);  // the object ended early
    }
    return Status::Ok();
  }));
  return end;
}

Status CopyObject(ObjectStore& src, std::string_view src_bucket, std::string_view src_key,
                  uint64_t size, ObjectStore& dst, std::string_view dst_bucket,
                  std::string_view dst_key, const ParallelReadOptions& options) {
  if (size <= options.part_size) {
    QUARRY_ASSIGN_OR_RETURN(auto data,
                            ReadToString(src, src_bucket, src_key, 0, UINT64_MAX, options.read));
    return dst.Put(dst_bucket, dst_key, data);
  }
  QUARRY_ASSIGN_OR_RETURN(auto writer, dst.OpenWriter(dst_bucket, dst_key));
  QUARRY_RETURN_IF_ERROR(
      ParallelRead(src, src_bucket, src_key, 0, size, options, [&](std::string_view part) {
        return writer->Write(part);
      }).status());
  return writer->Close();
}

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
