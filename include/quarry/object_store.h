// ObjectStore: the one interface every storage backend implements (s3/cos, file, mem, ...).
//
// The interface is deliberately small; conveniences (read a whole object, copy, delete a prefix,
// parallel ranged reads) are written once on top of it in quarry/object_ops.h, with the sinks
// of quarry/sinks.h, streaming reads (quarry/streaming_read.h) and fan-out listing
// (quarry/list_fanout.h).
//
// Thread safety: every method may be called from many threads at once on one store.
// Keys are opaque byte strings: backends never change them (no decoding, no normalisation).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/request_counters.h"
#include "quarry/status.h"
#include "quarry/uri.h"

namespace quarry {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // as the server reports it, quotes stripped; may be empty
  std::string last_modified;  // ISO-8601 UTC, e.g. "2026-11-27T05:03:00.000Z"; may be empty
  // As stored with the object (Put with PutOptions). Filled by Head and by ReadSink::OnObject;
  // listings may leave them empty; always empty for stores that keep no metadata (file).
  std::string content_type;
  std::string content_encoding;
};

struct PutOptions {
  std::string content_type;      // e.g. "text/csv"; "" leaves the store's default
  std::string content_encoding;  // e.g. "gzip"; "" for none
};

struct BucketInfo {
  std::string name;
  std::string creation_date;  // ISO-8601 UTC as the server reports it; may be empty
};

// One page of a listing.
struct ListPage {
  std::vector<ObjectInfo> objects;
  // Only filled when listing with a delimiter: "directory" prefixes, each ending in the delimiter.
  std::vector<std::string> common_prefixes;
};

// Pull-based listing: pagination is hidden, pages come as the server sends them.
class Lister {
 public:
  virtual ~Lister() = default;
  // Fills `page` with the next page. Returns true when a page was produced (it may be empty
  // only if the server sent an empty page), false when the listing is over, or an error.
  virtual Result<bool> Next(ListPage* page) = 0;
};

struct ListOptions {
  // "" lists every key under the prefix; "/" groups keys into common_prefixes like a directory.
  std::string delimiter;
  // Listing starts after this key (exclusive); "" from the beginning.
  std::string start_after;
  int page_size = 1000;
};

struct ReadOptions {
  // When non-empty the read fails with PreconditionFailed if the object's ETag differs.
  std::string if_match;
  // The object's size when the caller knows it (from a listing or Head): lets a read of all of
  // it go as a plain request, which servers answer faster than a ranged one.
  std::optional<uint64_t> object_size;
};

// A byte sink for ranged reads. Backends may retry a read: they call Reset() and write again.
class ReadSink {
 public:
  virtual ~ReadSink() = default;
  virtual Status Write(const char* data, size_t size) = 0;
  virtual void Reset() = 0;
  // What the response says about the object (etag, content_type, content_encoding, and size
  // where known), before the first Write of each attempt that carries bytes. Ignored by default.
  virtual void OnObject(const ObjectInfo& info) { (void)info; }

  // Receiving in place, optional: a sink that says true here may be given its bytes through
  // Room() and Commit() instead of Write(), by backends that can receive straight into its
  // memory (s3: from the socket, with no copy in between). Other backends call Write().
  virtual bool ReceivesInPlace() const { return false; }
  // Memory of the sink's own for the next bytes: at least one byte. It may wait until there is
  // room; an error aborts the read (and is its result).
  virtual Result<std::span<char>> Room() { return Internal("this sink takes bytes only by Write"); }
  // `size` bytes (no more than the last Room() offered) have arrived at the start of that room.
  virtual Status Commit(size_t size) {
    (void)size;
    return Internal("this sink takes bytes only by Write");
  }
};

// Writes data in order; for remote stores, an object that reaches the store's multipart
// threshold goes up in parts while the caller writes. Nothing is visible under the key before
// Close() succeeds. After a failed call the writer only fails (the upload is abandoned).
//
// Memory: a writer holds a bounded amount of memory of its own whatever the object's size (s3:
// at most parts in flight + 1 part buffers, reused from part to part), except stores that keep
// objects in memory anyway (mem).
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;  // abandons the upload if Close() was not called

  // Appends `data`. A writer may send parts straight from `data`, with no copy (s3 does for
  // every whole part `data` holds, several at once); it returns only when nothing refers to
  // `data` any more, so the caller may change or free that memory as soon as Write returns.
  // Bytes it does not send at once are copied. Calls with large pieces are therefore both the
  // fastest and the leanest way to write memory that already holds the data.
  virtual Status Write(std::string_view data) = 0;

  // Filling the writer's own memory, for sources that read into memory themselves (a file, a
  // socket): Room() offers memory for the next bytes (at least one byte; it may wait until an
  // upload in flight frees some), the caller fills a prefix of it and Commit(n) appends those
  // n bytes, like Write would, without Write's copy. The room is valid until Commit().
  // By default (stores that copy anyway) both go through a scratch buffer and Write.
  virtual Result<std::span<char>> Room() {
    if (!scratch_) scratch_ = std::make_unique<char[]>(kScratchBytes);
    return std::span<char>(scratch_.get(), kScratchBytes);
  }
  virtual Status Commit(size_t size) {
    if (!scratch_ || size > kScratchBytes) return Internal("ObjectWriter::Commit beyond its Room");
    return Write(std::string_view(scratch_.get(), size));
  }

  // Finishes the object: sends what is left and makes it visible under the key.
  virtual Status Close() = 0;

 private:
  static constexpr size_t kScratchBytes = size_t{1} << 20;
  std::unique_ptr<char[]> scratch_;
};

// Request counters of a store since it was made (zero for stores that make no requests).
using StoreStats = RequestCounts;  // a store's HTTP client's totals (request_counters.h)

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual StoreStats stats() const { return {}; }

  // The scheme this store serves ("s3", "cos", "file", "mem").
  virtual std::string_view scheme() const = 0;
  // Where requests go, for messages ("http://127.0.0.1:7480", "/", "memory").
  virtual std::string endpoint() const = 0;

  // Lists keys that start with `prefix` in lexicographic (byte) order. A missing bucket is a
  // NotFound naming it (reported by the first Next()); an empty bucket lists nothing.
  virtual Result<std::unique_ptr<Lister>> List(std::string_view bucket, std::string_view prefix,
                                               const ListOptions& options) = 0;

  // Metadata of one object. NotFound when the bucket or key does not exist.
  virtual Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) = 0;

  // Writes bytes [offset, offset+length) of the object to `sink`; a range running past the end
  // is cut at the end (an offset at or past the end writes nothing). `length` = UINT64_MAX
  // means "to the end". Returns the number of bytes written.
  virtual Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                                     uint64_t length, ReadSink* sink,
                                     const ReadOptions& options) = 0;

  // Stores `data` under the key in one request, replacing any object there, with the metadata
  // of `options` (stores that keep no metadata ignore it).
  virtual Status Put(std::string_view bucket, std::string_view key, std::string_view data,
                     const PutOptions& options) = 0;
  Status Put(std::string_view bucket, std::string_view key, std::string_view data) {
    return Put(bucket, key, data, PutOptions{});
  }

  // Opens a writer for large or streamed uploads; the object gets the metadata of `options`.
  virtual Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket,
                                                           std::string_view key,
                                                           const PutOptions& options) = 0;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket, std::string_view key) {
    return OpenWriter(bucket, key, PutOptions{});
  }

  // Deletes the keys (batched where the backend can). Missing keys are not an error.
  virtual Status DeleteObjects(std::string_view bucket, const std::vector<std::string>& keys) = 0;

  // The buckets the credentials can see, in name order. InvalidArgument for stores without
  // buckets (file).
  virtual Result<std::vector<BucketInfo>> ListBuckets() {
    return InvalidArgument(std::string(scheme()) + " has no buckets to list: give a path");
  }

  // Creates a bucket; OK if it already exists and is ours.
  virtual Status CreateBucket(std::string_view bucket) = 0;
  // Deletes an empty bucket.
  virtual Status DeleteBucket(std::string_view bucket) = 0;

  // A URL that lets anyone GET the object for `expires_seconds`, without credentials.
  // InvalidArgument for backends without such URLs.
  virtual Result<std::string> PresignGet(std::string_view bucket, std::string_view key,
                                         int64_t expires_seconds) {
    (void)bucket, (void)key, (void)expires_seconds;
    return InvalidArgument("presigned URLs exist only for s3 and cos, not " +
                           std::string(scheme()));
  }
};

}  // namespace quarry
