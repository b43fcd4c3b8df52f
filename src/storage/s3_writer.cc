#include "storage/s3_writer.h"

#include <algorithm>
#include <mutex>
#include <pugixml.hpp>
#include <utility>
#include <vector>

#include "storage/part_writer.h"
#include "storage/s3_xml.h"

namespace quarry {
namespace {

// A multipart upload (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, or
// AbortMultipartUpload) of an object from multipart_threshold up, the parts being those of
// PartWriter: four in flight at once.
class S3Writer final : public PartWriter {
 public:
  S3Writer(std::shared_ptr<S3Client> client, std::string bucket, std::string key,
           PutOptions options)
      : PartWriter(
            TargetOf(client->settings().scheme, std::move(bucket), std::move(key),
                     std::move(options)),
            ShapeOf(client->settings().part_size, client->settings().multipart_threshold, 4)),
        client_(std::move(client)) {}

  ~S3Writer() override { Discard(); }

 private:
  Status StartUpload() override {
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            client_->Call({.op = "start upload",
                                           .method = "POST",
                                           .bucket = bucket(),
                                           .key = key(),
                                           .query = {{"uploads", ""}},
                                           .headers = S3MetadataHeaders(put_options())}));
    pugi::xml_document doc;
    doc.load_buffer(resp.body.data(), resp.body.size());
    upload_id_ = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (upload_id_.empty()) {
      return Status(StatusCode::kIoError, "start upload " + uri() + ": no UploadId in reply");
    }
    return Status::Ok();
  }

  Status UploadPart(size_t index, uint64_t /*offset*/, std::string_view bytes) override {
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            client_->Call({.op = "upload part",
                                           .method = "PUT",
                                           .bucket = bucket(),
                                           .key = key(),
                                           .query = {{"partNumber", std::to_string(index + 1)},
                                                     {"uploadId", upload_id_}},
                                           .body = bytes}));
    std::lock_guard<std::mutex> lock(mu_);  // parts finish in any order
    if (etags_.size() <= index) etags_.resize(index + 1);
    etags_[index] = std::string(resp.Header("etag"));
    return Status::Ok();
  }

  Status CompleteUpload() override {
    QUARRY_RETURN_IF_ERROR(SendRest());
    QUARRY_RETURN_IF_ERROR(WaitForParts());
    std::string body = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i) {
      body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
              XmlEscape(etags_[i]) + "</ETag></Part>";
    }
    body += "</CompleteMultipartUpload>";
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            client_->Send({.method = "POST",
                                           .bucket = bucket(),
                                           .key = key(),
                                           .query = {{"uploadId", upload_id_}},
                                           .headers = {{"content-type", "application/xml"}},
                                           .body = body}));
    // CompleteMultipartUpload can answer 200 with an <Error> body.
    if (resp.status != 200 || resp.body.find("<Error>") != std::string::npos) {
      return client_->ErrorFor("complete upload", bucket(), key(), resp);
    }
    return Status::Ok();
  }

  void AbortUpload() override {
    if (upload_id_.empty()) return;
    (void)client_->Send({.method = "DELETE",
                         .bucket = bucket(),
                         .key = key(),
                         .query = {{"uploadId", upload_id_}}});
    upload_id_.clear();
  }

  Status PutWhole(std::string_view bytes) override {
    return S3PutObject(*client_, bucket(), key(), bytes, put_options());
  }

  std::shared_ptr<S3Client> client_;
  std::string upload_id_;
  std::mutex mu_;                   // guards etags_ against the part threads
  std::vector<std::string> etags_;  // of part i + 1, as each part's reply gave it
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
