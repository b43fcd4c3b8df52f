// RangeFetcher: an object's bytes from one offset on, in order, through ranged reads sized to
// how they are consumed. What every partition stream reads through.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "quarry/object_store.h"
#include "quarry/plan.h"
#include "quarry/status.h"
#include "quarry/streaming_read.h"

namespace quarry {

// The smallest request a read makes after a seek (or at a fresh start): smaller ones cost a
// round trip for little.
inline constexpr uint64_t kMinRead = uint64_t{64} * 1024;

// The first request past a line-aligned partition's nominal stop (later ones double up to the
// part size); also how far its bulk reads go past the stop, so that the end of its last record
// usually comes with them.
inline constexpr uint64_t kFirstPastStopRead = uint64_t{64} * 1024;

// Reads [from, limit) of an object in order, with requests sized to how it is consumed. It asks
// for nothing until the first Next(); then for what the consumer's read wants (at least
// kMinRead), and nothing more. Once a read starts where every requested byte was consumed, the
// access is sequential: it keeps `readahead` requests in flight, each twice as long as the last
// (or as long as the read wants), up to `part_size`. A consumer that wants everything
// (SIZE_MAX) gets part_size requests in flight at once. Past `bulk_until` (the tail of a
// line-aligned partition, whose length is unknown) it reads on demand in ranges that start small
// and double up to part_size. The head request is handed out while it arrives, so consumption
// overlaps the transfer. Every read pins the partition's ETag. Not thread-safe.
class RangeFetcher {
 public:
  // Reads the object that `p` describes, with the read tuning of its options.
  RangeFetcher(std::shared_ptr<ObjectStore> store, const Partition& p, uint64_t from,
               uint64_t limit, uint64_t bulk_until);

  // Notes that the consumer starts a read at offset `from` (at most position(): the bytes in
  // between were handed out already) that wants the bytes up to `end` (UINT64_MAX: all). The
  // requests Next() makes are sized by it. A read that starts where the requested bytes end goes
  // on in order: readahead begins.
  void BeginRead(uint64_t from, uint64_t end);

  // Takes the access as sequential from here: the next requests are part_size long, readahead
  // of them in flight (for a scan, which need not ramp up).
  void AssumeSequential();

  // The next bytes in order, valid until the next call; empty at the limit (or where the object
  // ended). Part buffers come from the read buffer pool, so consumed parts' memory serves later
  // reads. Reads still in flight when the fetcher goes are abandoned.
  Result<std::string_view> Next();

  // Bytes handed out so far.
  uint64_t bytes() const { return bytes_; }

  // Offset of the next byte Next() hands out.
  uint64_t position() const {
    return in_flight_.empty() ? next_ : in_flight_.front()->offset() + consumed_;
  }
  // End of the bytes requested so far.
  uint64_t requested_end() const { return next_; }

  // Keeps the memory of the last Next()'s view allocated (see StreamingRead::buffer_owner).
  std::shared_ptr<const void> HeadOwner() const {
    return in_flight_.empty() ? nullptr : in_flight_.front()->buffer_owner();
  }

  // The Content-Encoding of the response that the last bytes came from ("" if none).
  std::string HeadContentEncoding() const {
    return in_flight_.empty() ? std::string() : in_flight_.front()->content_encoding();
  }

 private:
  // Launches the requests the access calls for; at least one when none is in flight.
  void Schedule(uint64_t want_end);
  uint64_t NextLength(uint64_t want_end);
  // Starts reading [next_, next_ + len) in the background; a small read that is all there is
  // to read, or all the consumer asked for, runs right here (the consumer would wait for it
  // anyway), saving a thread.
  void Launch(uint64_t len, uint64_t want_end);

  std::shared_ptr<ObjectStore> store_;
  std::string bucket_, key_;
  ReadOptions read_;
  uint64_t part_size_;
  size_t readahead_;
  size_t window_;  // bytes each read holds at a time
  uint64_t next_, limit_, bulk_until_;
  uint64_t past_read_ = kFirstPastStopRead;
  bool launched_ = false;
  bool sequential_ = false;   // a read started where the requested bytes ended
  uint64_t want_end_ = 0;     // where the consumer's current read wants to get to
  uint64_t last_length_ = 0;  // of the last request below bulk_until_
  uint64_t bytes_ = 0;
  uint64_t consumed_ = 0;  // bytes of the head part handed out
  std::deque<std::unique_ptr<StreamingRead>> in_flight_;
};

// A fetcher over the whole object that `p` describes, [0, p.size).
std::unique_ptr<RangeFetcher> WholeObjectFetcher(std::shared_ptr<ObjectStore> store,
                                                 const Partition& p);

// The first bytes a fetcher that starts at the object's start hands out, by one read of up to
// kMinRead: what tells whether the object is compressed. Empty for an empty object; valid until
// the fetcher's next call.
Result<std::string_view> FetchHead(RangeFetcher& fetcher);

}  // namespace quarry
