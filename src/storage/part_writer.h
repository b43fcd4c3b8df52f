// PartWriter: the ObjectWriter of the backends that upload large objects in parts (S3 multipart
// uploads, Azure blocks, GCS resumable chunks). It owns what they share: gathering bytes into
// part-sized buffers, a few parts in flight while the caller writes, whole parts sent straight
// from the caller's memory, buffers reused from part to part, one request below the threshold,
// and completing or abandoning the upload. The protocol (how a part, the start, the end and
// an abort go on the wire) is the subclass's. Internal to the storage backends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/object_store.h"
#include "quarry/status.h"

namespace quarry {

// Memory: up to parts_in_flight part buffers in flight and one being filled (a buffer is made
// only when none is free), plus, before the upload starts, those holding the bytes below the
// threshold when it is larger than part_size. Write() sends the whole parts it covers from the
// caller's memory and returns only when no part in flight reads that memory any more.
//
// The first failure sticks: every later call returns it; Close() then abandons the upload
// (AbortUpload) and returns it. Not thread-safe: one caller at a time (parts run on threads of
// their own, each counting its requests into the counters of the thread that wrote it).
class PartWriter : public ObjectWriter {
 public:
  struct Shape {
    size_t part_size = 0;        // bytes of every part but the last
    uint64_t threshold = 1;      // objects of this many bytes or more go in parts (at least 1)
    size_t parts_in_flight = 1;  // uploading at once; 1 sends the parts one after another
  };

  // What is uploaded: the object and the options it is put with.
  struct Target {
    std::string uri;  // names the object in messages ("s3://bucket/key")
    std::string bucket;
    std::string key;
    PutOptions options;
  };

  // The object `key` of `bucket` under `scheme`, named "<scheme>://<bucket>/<key>".
  static Target TargetOf(std::string_view scheme, std::string bucket, std::string key,
                         PutOptions options);

  // The shape of a backend's parts: `part_size` bytes each, objects of `multipart_threshold`
  // bytes or more in parts (an empty object is one request whatever the threshold).
  static Shape ShapeOf(uint64_t part_size, uint64_t multipart_threshold, size_t parts_in_flight);

  PartWriter(Target target, Shape shape);
  ~PartWriter() override;
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  Status Write(std::string_view data) final;
  Result<std::span<char>> Room() final;
  Status Commit(size_t size) final;
  // Below the threshold: PutWhole of every byte. From it up: CompleteUpload. A failure of
  // either abandons the upload (AbortUpload).
  Status Close() final;

 protected:
  // The protocol. None is called concurrently with another, except UploadPart with itself.

  // Starts the upload, once, when the object reaches the threshold, before any part is sent.
  virtual Status StartUpload() = 0;
  // Uploads part `index` (0, 1, ...): the object's bytes [offset, offset + bytes.size()). Runs on
  // a thread of its own; `bytes` stay valid until it returns.
  virtual Status UploadPart(size_t index, uint64_t offset, std::string_view bytes) = 0;
  // Makes the object visible once every byte is given: usually SendRest(), WaitForParts(), then
  // the service's commit request.
  virtual Status CompleteUpload() = 0;
  // Drops an upload that will not complete, after every part in flight has finished (also when
  // none was started: then it has nothing to do).
  virtual void AbortUpload() = 0;
  // Sends an object below the threshold in one request.
  virtual Status PutWhole(std::string_view bytes) = 0;

  // For CompleteUpload: sends the bytes gathered since the last whole part as one more part
  // (nothing when there are none).
  Status SendRest();
  // For CompleteUpload: waits for the parts in flight, returning at the first failure.
  Status WaitForParts();
  std::string_view rest() const { return filling_.view(); }  // bytes not handed to a part
  uint64_t sent() const { return sent_; }                    // bytes handed to parts
  uint64_t written() const { return written_; }              // bytes given to the writer
  size_t parts() const { return parts_; }                    // parts handed out so far
  const std::string& uri() const { return target_.uri; }
  const std::string& bucket() const { return target_.bucket; }
  const std::string& key() const { return target_.key; }
  const PutOptions& put_options() const { return target_.options; }

  // Abandons the upload unless Close() was called. A subclass's destructor calls it: the hooks
  // are not the subclass's any more in ~PartWriter, and parts in flight may use its members.
  void Discard();

 private:
  // part_size bytes of the writer's own, `size` of them filled.
  struct PartBuffer {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    std::string_view view() const { return {data.get(), size}; }
  };

  // A part being uploaded, from `owned` or, when that is empty, from the caller's memory.
  struct InFlight {
    std::future<Status> done;
    PartBuffer owned;
  };

  Status CheckWritable() const;
  Status Failed(Status s);  // remembers the first failure
  Status Start();
  Status Finish();
  void Abort();
  PartBuffer TakeBuffer();
  Status SendFilled();
  Status SendPart(PartBuffer owned, std::string_view borrowed);
  Status FinishOldest();
  Status WaitForBorrowedParts();

  const Target target_;
  const Shape shape_;
  bool started_ = false;
  uint64_t written_ = 0;
  uint64_t sent_ = 0;
  size_t parts_ = 0;
  PartBuffer filling_;             // the part being gathered (no memory until needed)
  std::vector<PartBuffer> held_;   // full parts waiting for the upload to start
  std::vector<PartBuffer> spare_;  // buffers of finished parts, for the next ones
  std::deque<InFlight> in_flight_;
  Status failure_;
  bool closed_ = false;
};

}  // namespace quarry
