// Whole-object operations written once on top of ObjectStore, for every backend: reading an
// object or a range into a string or the caller's memory (as parallel ranged reads where it is
// large), parallel ranged reads handed to a consumer in order or by position, many ranges of
// many objects read at once into the caller's memory, copying an object between stores, and
// deleting every object under a prefix.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "quarry/object_store.h"

namespace quarry {

// Reads the whole object (or [offset, offset+length)) into a string.
Result<std::string> ReadToString(ObjectStore& store, std::string_view bucket, std::string_view key,
                                 uint64_t offset = 0, uint64_t length = UINT64_MAX,
                                 const ReadOptions& options = {});

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

// One range of a batch read: bytes [start, stop) of bucket/key on `store`, received into `out`,
// which has room for exactly stop - start bytes. `options` pins the object's version (if_match)
// and tells its size where the caller knows them (from a listing).
struct RangeRead {
  ObjectStore* store = nullptr;
  std::string_view bucket;
  std::string_view key;
  uint64_t start = 0;
  uint64_t stop = 0;
  ReadOptions options;
  char* out = nullptr;
};

struct ReadRangesOptions {
  int concurrency = 16;             // requests in flight at once, over all the ranges
  uint64_t part_size = 8ull << 20;  // a longer range goes as ranged reads of this size
};

// Reads every range of `reads` (of one or many objects and stores) with up to `concurrency`
// requests in flight, each received straight into its place in the range's `out` (from the
// socket, for stores that receive in place): nothing is staged. Every byte asked for arrives or
// the call fails: a range that ends early at the store (the object is shorter than the caller
// said) is a PreconditionFailed naming the key, like a changed ETag. Returns the first error
// by range; no request starts after an error.
Status ReadRanges(std::span<const RangeRead> reads, const ReadRangesOptions& options = {});

// Copies one object, possibly between stores: parallel ranged reads into the destination's
// writer (multipart above its threshold). `size` is the source size (from a listing or Head).
Status CopyObject(ObjectStore& src, std::string_view src_bucket, std::string_view src_key,
                  uint64_t size, ObjectStore& dst, std::string_view dst_bucket,
                  std::string_view dst_key, const ParallelReadOptions& options = {});

}  // namespace quarry
