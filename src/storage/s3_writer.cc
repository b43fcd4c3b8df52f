#include "storage/s3_writer.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <pugixml.hpp>
#include <span>
#include <utility>
#include <vector>

#include "quarry/request_counters.h"
#include "storage/s3_xml.h"

namespace quarry {
namespace {

// Multipart upload. Up to kPartsInFlight parts go up at once while the caller writes: the whole
// parts a Write covers straight from the caller's memory (Write waits for them before it
// returns), the rest gathered in part buffers of the writer's own, which are reused from part to
// part: a buffer is made only when none is free, so there are never more than kPartsInFlight + 1
// (one being filled), plus, before the upload starts, those holding the bytes below
// multipart_threshold when it is larger than part_size.
class S3Writer final : public ObjectWriter {
 public:
  S3Writer(std::shared_ptr<S3Client> client, std::string bucket, std::string key,
           PutOptions options)
      : client_(std::move(client)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        options_(std::move(options)),
        part_size_(static_cast<size_t>(client_->settings().part_size)),
        // An empty object is one PUT whatever the threshold.
        threshold_(std::max<uint64_t>(1, client_->settings().multipart_threshold)) {}

  ~S3Writer() override {
    if (!closed_) Abort();
  }

  Status Write(std::string_view data) override {
    QUARRY_RETURN_IF_ERROR(CheckWritable());
    Status status;
    // Known from here on: the object reaches the threshold, so the upload can start now and the
    // parts of `data` go without a copy.
    if (upload_id_.empty() && written_ + data.size() >= threshold_) status = StartUpload();
    while (status.ok() && !data.empty()) {
      if (!upload_id_.empty() && filling_.size == 0 && data.size() >= part_size_) {
        status = SendPart({}, data.substr(0, part_size_));
        data.remove_prefix(part_size_);
        written_ += part_size_;
        continue;
      }
      auto room = Room();
      if (!room.ok()) {
        status = room.status();
        break;
      }
      const size_t n = std::min(room->size(), data.size());
      std::memcpy(room->data(), data.data(), n);
      data.remove_prefix(n);
      status = Commit(n);
    }
    Status borrowed = WaitForBorrowedParts();
    return Failed(status.ok() ? borrowed : status);
  }

  Result<std::span<char>> Room() override {
    QUARRY_RETURN_IF_ERROR(CheckWritable());
    if (!filling_.data) filling_ = TakeBuffer();
    return std::span<char>(filling_.data.get() + filling_.size, part_size_ - filling_.size);
  }

  Status Commit(size_t size) override {
    QUARRY_RETURN_IF_ERROR(CheckWritable());
    if (!filling_.data || size > part_size_ - filling_.size) {
      return Internal("S3Writer::Commit of more than its Room() offered");
    }
    filling_.size += size;
    written_ += size;
    Status status;
    if (upload_id_.empty() && written_ >= threshold_) status = StartUpload();
    if (status.ok() && filling_.size == part_size_) {
      if (upload_id_.empty()) {
        held_.push_back(std::move(filling_));
      } else {
        status = SendFilled();
      }
      filling_ = {};
    }
    return Failed(status);
  }

  Status Close() override {
    if (closed_) return failure_;
    closed_ = true;
    if (!failure_.ok()) return Fail(failure_);
    return Failed(Finish());
  }

 private:
  static constexpr size_t kPartsInFlight = 4;

  // part_size_ bytes of the writer's own, `size` of them filled.
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

  // Sends what is left and completes the upload (or makes the one PUT).
  Status Finish() {
    if (upload_id_.empty()) {
      // Below the threshold: one PUT, from the one buffer when the bytes are in one.
      if (held_.empty()) return S3PutObject(*client_, bucket_, key_, filling_.view(), options_);
      std::string body;
      body.reserve(static_cast<size_t>(written_));
      for (const auto& b : held_) body.append(b.view());
      body.append(filling_.view());
      return S3PutObject(*client_, bucket_, key_, body, options_);
    }
    Status status = filling_.size > 0 ? SendFilled() : Status::Ok();
    while (status.ok() && !in_flight_.empty()) status = FinishOldest();
    if (!status.ok()) return Fail(status);
    std::string body = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i) {
      body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
              XmlEscape(etags_[i]) + "</ETag></Part>";
    }
    body += "</CompleteMultipartUpload>";
    auto resp = client_->Send({.method = "POST",
                               .bucket = bucket_,
                               .key = key_,
                               .query = {{"uploadId", upload_id_}},
                               .headers = {{"content-type", "application/xml"}},
                               .body = body});
    if (!resp.ok()) return Fail(resp.status());
    // CompleteMultipartUpload can answer 200 with an <Error> body.
    if (resp->status != 200 || resp->body.find("<Error>") != std::string::npos) {
      return Fail(client_->ErrorFor("complete upload", bucket_, key_, *resp));
    }
    return Status::Ok();
  }

  std::string UriText() const { return client_->settings().scheme + "://" + bucket_ + "/" + key_; }

  Status CheckWritable() const {
    if (closed_) return InvalidArgument("write after close of " + UriText());
    return failure_;
  }

  // Remembers the first failure: the writer only fails from then on.
  Status Failed(Status s) {
    if (!s.ok() && failure_.ok()) failure_ = s;
    return s;
  }

  Status Fail(Status s) {
    Abort();
    return s;
  }

  void Abort() {
    while (!in_flight_.empty()) (void)FinishOldest();
    if (!upload_id_.empty()) {
      (void)client_->Send({.method = "DELETE",
                           .bucket = bucket_,
                           .key = key_,
                           .query = {{"uploadId", upload_id_}}});
      upload_id_.clear();
    }
  }

  PartBuffer TakeBuffer() {
    if (spare_.empty()) return {std::make_unique_for_overwrite<char[]>(part_size_), 0};
    PartBuffer b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }

  Status StartUpload() {
    QUARRY_ASSIGN_OR_RETURN(auto resp, client_->Call({.op = "start upload",
                                                      .method = "POST",
                                                      .bucket = bucket_,
                                                      .key = key_,
                                                      .query = {{"uploads", ""}},
                                                      .headers = S3MetadataHeaders(options_)}));
    pugi::xml_document doc;
    doc.load_buffer(resp.body.data(), resp.body.size());
    upload_id_ = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (upload_id_.empty()) {
      return Status(StatusCode::kIoError, "start upload " + UriText() + ": no UploadId in reply");
    }
    std::vector<PartBuffer> held = std::move(held_);
    held_.clear();
    for (auto& b : held) QUARRY_RETURN_IF_ERROR(SendPart(std::move(b), {}));
    return Status::Ok();
  }

  Status SendFilled() {
    PartBuffer b = std::move(filling_);
    filling_ = {};
    return SendPart(std::move(b), {});
  }

  // Uploads `owned` or, when it is empty, `borrowed` as the next part, once fewer than
  // kPartsInFlight parts are in flight.
  Status SendPart(PartBuffer owned, std::string_view borrowed) {
    while (in_flight_.size() >= kPartsInFlight) QUARRY_RETURN_IF_ERROR(FinishOldest());
    size_t part_index = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);  // part threads write into etags_
      part_index = etags_.size();
      etags_.emplace_back();
    }
    // The bytes do not move with the buffer: the view stays valid while `owned` lives.
    const std::string_view body = owned.data ? owned.view() : borrowed;
    auto done = std::async(
        std::launch::async,
        [this, part_index, body, counters = CurrentRequestCountersShared()]() -> Status {
          CountRequestsInto count(counters);
          auto resp = client_->Call(
              {.op = "upload part",
               .method = "PUT",
               .bucket = bucket_,
               .key = key_,
               .query = {{"partNumber", std::to_string(part_index + 1)}, {"uploadId", upload_id_}},
               .body = body});
          if (!resp.ok()) return resp.status();
          std::lock_guard<std::mutex> lock(mu_);
          etags_[part_index] = std::string(resp->Header("etag"));
          return Status::Ok();
        });
    in_flight_.push_back({std::move(done), std::move(owned)});
    return Status::Ok();
  }

  // Waits for the oldest part in flight; its buffer, if it had one, becomes free.
  Status FinishOldest() {
    InFlight part = std::move(in_flight_.front());
    in_flight_.pop_front();
    Status s = part.done.get();
    if (part.owned.data) {
      part.owned.size = 0;
      spare_.push_back(std::move(part.owned));
    }
    return s;
  }

  // Waits until no part in flight reads the caller's memory (finishing the owned ones sent
  // before them too: parts finish about in order anyway). All are waited for, also on error.
  Status WaitForBorrowedParts() {
    Status first;
    while (std::any_of(in_flight_.begin(), in_flight_.end(),
                       [](const InFlight& p) { return !p.owned.data; })) {
      Status s = FinishOldest();
      if (first.ok()) first = s;
    }
    return first;
  }

  std::shared_ptr<S3Client> client_;
  std::string bucket_, key_;
  PutOptions options_;
  const size_t part_size_;
  const uint64_t threshold_;
  std::string upload_id_;
  uint64_t written_ = 0;           // bytes given to Write or Commit
  PartBuffer filling_;             // the part being gathered (no memory until needed)
  std::vector<PartBuffer> held_;   // full parts waiting for the upload to start
  std::vector<PartBuffer> spare_;  // buffers of finished parts, for the next ones
  std::deque<InFlight> in_flight_;
  std::vector<std::string> etags_;
  std::mutex mu_;
  Status failure_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<ObjectWriter> MakeS3Writer(std::shared_ptr<S3Client> client, std::string bucket,
                                           std::string key, PutOptions options) {
  return std::make_unique<S3Writer>(std::move(client), std::move(bucket), std::move(key),
                                    std::move(options));
}

Status S3PutObject(S3Client& client, std::string_view bucket, std::string_view key,
                   std::string_view data, const PutOptions& options) {
  return client
      .Call({.op = "write",
             .method = "PUT",
             .bucket = bucket,
             .key = key,
             .headers = S3MetadataHeaders(options),
             .body = data})
      .status();
}

}  // namespace quarry
