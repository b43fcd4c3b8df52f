// Conveniences written once on top of ObjectStore, for every backend.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "quarry/object_store.h"

namespace quarry {

// A ReadSink that appends to a string, and keeps what the response said about the object.
class StringSink final : public ReadSink {
 public:
  explicit StringSink(std::string* out) : out_(out), base_(out->size()) {}
  Status Write(const char* data, size_t size) override {
    out_->append(data, size);
    return Status::Ok();
  }
  void Reset() override { out_->resize(base_); }
  void OnObject(const ObjectInfo& info) override { info_ = info; }
  // Unset until a response carried bytes, and for stores whose reads say nothing.
  const std::optional<ObjectInfo>& info() const { return info_; }

 private:
  std::string* out_;
  size_t base_;
  std::optional<ObjectInfo> info_;
};

// A ReadSink over a fixed buffer, received into in place where the backend can; fails if more
// than its capacity arrives.
class BufferSink final : public ReadSink {
 public:
  BufferSink(char* data, size_t capacity) : data_(data), capacity_(capacity) {}
  Status Write(const char* data, size_t size) override;
  void Reset() override { size_ = 0; }
  bool ReceivesInPlace() const override { return true; }
  Result<std::span<char>> Room() override;
  Status Commit(size_t size) override;
  size_t size() const { return size_; }

 private:
  char* data_;
  size_t capacity_;
  size_t size_ = 0;
};

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

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread thread_;
};

// Hands `size` bytes to a sink that receives in place, copying them into the rooms it offers
// (for sources whose bytes are already in memory).
Status CopyIntoRooms(ReadSink& sink, const char* data, size_t size);

// Reads the whole object (or [offset, offset+length)) into a string.
Result<std::string> ReadToString(ObjectStore& store, std::string_view bucket, std::string_view key,
                                 uint64_t offset = 0, uint64_t length = UINT64_MAX,
                                 const ReadOptions& options = {});

struct FanOutOptions {
  int max_parallel = 8;        // sub-prefixes listed at once
  size_t max_prefixes = 1000;  // more sub-prefixes than this (or than one page): no fan-out
  size_t pages_ahead = 4;      // pages each sub-listing may hold before the consumer takes them
  int page_size = 1000;        // of every listing request
};

// Lists every key under `prefix` in order, like store.List(bucket, prefix, {}), faster for
// large prefixes laid out as "directories": when the prefix holds at least a page of keys in
// 2..max_prefixes sub-prefixes (found with one "/"-delimited listing, descending through a lone
// sub-prefix), those are listed in parallel and their pages handed out in key order. Otherwise
// (fewer keys, a flat prefix, too many sub-prefixes) it is the plain listing plus at most one
// small request. Memory stays under max_parallel x pages_ahead pages. `store` must outlive it.
Result<std::unique_ptr<Lister>> ListFanOut(ObjectStore& store, std::string_view bucket,
                                           std::string_view prefix,
                                           const FanOutOptions& options = {});

// Every object under the prefix, all pages.
Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, std::string_view bucket,
                                        std::string_view prefix, const ListOptions& options = {});

// Deletes every object under the prefix, in batches as listing pages arrive. Returns the count.
Result<uint64_t> DeletePrefix(ObjectStore& store, std::string_view bucket, std::string_view prefix);

struct ParallelReadOptions {
  uint64_t part_size = 8ull << 20;
  int max_in_flight = 4;  // memory stays under part_size * max_in_flight
  ReadOptions read;
};

// Reads [offset, offset+length) of an object as many ranged reads in flight at once and hands
// the bytes to `consume` in order (on the calling thread), in pieces: the first read in order is
// passed on while it arrives, the later ones are buffered until their turn. Stops at the first
// error, of a read or of `consume`. Returns the number of bytes consumed.
Result<uint64_t> ParallelRead(ObjectStore& store, std::string_view bucket, std::string_view key,
                              uint64_t offset, uint64_t length, const ParallelReadOptions& options,
                              const std::function<Status(std::string_view part)>& consume);

// Reads [start, stop) of an object (to its end when `stop` is unset) whose size the caller does
// not know, in as few requests as the size allows: the first part_size bytes in one request,
// whose response tells the object's size and ETag; the rest, if any, as parallel ranged reads
// pinned to that ETag (so a change in between fails the read instead of mixing versions). A range
// past the end is cut at the end. ReadObjectInto's memory is the string's.
Result<std::string> ReadObject(ObjectStore& store, std::string_view bucket, std::string_view key,
                               uint64_t start, std::optional<uint64_t> stop,
                               const ParallelReadOptions& options = {});

// Memory for the `size` bytes of a read, asked for once the size is known; an error ends the read.
using AllocateForRead = std::function<Result<char*>(uint64_t size)>;

// Like ReadObject, into memory of the caller's: `allocate` is called exactly once (unless the read
// fails before the size is known), with the number of bytes the range holds, and every ranged read
// is received straight into its place in that memory (from the socket, for stores that receive in
// place), up to max_in_flight at once: the bytes are written once and never held anywhere else.
// Stores whose replies do not tell the size (file) have the first part staged and copied after a
// Head. Returns the size given to `allocate`.
Result<uint64_t> ReadObjectInto(ObjectStore& store, std::string_view bucket, std::string_view key,
                                uint64_t start, std::optional<uint64_t> stop,
                                const ParallelReadOptions& options,
                                const AllocateForRead& allocate);

// Like ParallelRead, for destinations that can be written at any position (files): every piece
// goes to `consume` straight from the network, with its position relative to `offset`, in no
// particular order and from several threads at once (`consume` must be thread-safe); nothing is
// buffered or copied in between. A retried read delivers its range again from its start. Returns
// the length of the object's data in the range (less than `length` if the object ended first).
Result<uint64_t> ParallelReadAt(
    ObjectStore& store, std::string_view bucket, std::string_view key, uint64_t offset,
    uint64_t length, const ParallelReadOptions& options,
    const std::function<Status(uint64_t position, std::string_view data)>& consume);

// Copies one object, possibly between stores: parallel ranged reads into the destination's
// writer (multipart above its threshold). `size` is the source size (from a listing or Head).
Status CopyObject(ObjectStore& src, std::string_view src_bucket, std::string_view src_key,
                  uint64_t size, ObjectStore& dst, std::string_view dst_bucket,
                  std::string_view dst_key, const ParallelReadOptions& options = {});

// Runs fn(i) for i in [0, count) on up to `threads` threads; returns the first error (by index)
// after all started calls end. No new calls start after an error.
Status ParallelFor(size_t count, int threads, const std::function<Status(size_t)>& fn);

}  // namespace quarry
