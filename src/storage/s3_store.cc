// S3-compatible backend: the ObjectStore over an S3Client (s3_request.h), whose options are in
// s3_settings.h, its errors in s3_errors.h, its listing in s3_lister.h and its uploads in
// s3_writer.h.
#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <pugixml.hpp>

#include "auth/credentials.h"
#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/key_rules.h"
#include "storage/backends.h"
#include "storage/bounded_body.h"
#include "storage/reply_headers.h"
#include "storage/s3_lister.h"
#include "storage/s3_request.h"
#include "storage/s3_settings.h"
#include "storage/s3_writer.h"
#include "storage/s3_xml.h"

namespace quarry {
namespace {

using http::HttpResponse;

std::string Base64Md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, md, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(std::shared_ptr<S3Client> client) : client_(std::move(client)) {}

  auth::TokenCache& tokens() { return client_->tokens(); }

  std::string_view scheme() const override { return scheme_text(); }
  std::string endpoint() const override { return client_->endpoint(); }

  StoreStats stats() const override { return ReadCounts(client_->stats()); }

  Result<std::unique_ptr<Lister>> List(std::string_view bucket, std::string_view prefix,
                                       const ListOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    return MakeS3Lister(client_, std::string(bucket), std::string(prefix), options);
  }

  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(scheme_text(), bucket, key));
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            client_->Send({.method = "HEAD", .bucket = bucket, .key = key}));
    if (resp.status != 200) {
      // A HEAD reply has no body to say why (missing bucket or key, expired token...): ask
      // again with a one-byte GET, whose error reply names the cause.
      auto probe = client_->Send(
          {.method = "GET", .bucket = bucket, .key = key, .headers = {{"range", "bytes=0-0"}}});
      if (probe.ok() && probe->status >= 400 && probe->status != 416 && !probe->body.empty()) {
        return client_->ErrorFor("stat", bucket, key, *probe);
      }
      return client_->ErrorFor("stat", bucket, key, resp);
    }
    return InfoFromHeaders(key, resp);
  }

  Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(scheme_text(), bucket, key));
    if (length == 0) return uint64_t{0};
    http::HeaderList headers;
    if (!ReadsWholeObject(offset, length, options.object_size)) {
      headers.emplace_back("range", ByteRangeHeader(offset, length));
    }
    if (!options.if_match.empty()) headers.emplace_back("if-match", "\"" + options.if_match + "\"");
    BoundedBody body(
        sink, length,
        [&] {
          return Status(StatusCode::kPreconditionFailed,
                        "read " + scheme_text() + "://" + std::string(bucket) + "/" +
                            std::string(key) +
                            ": the object is larger than when it was listed (it changed while "
                            "being read): rerun on the new version");
        },
        [&](const HttpResponse& head) -> Result<ObjectInfo> { return InfoFromHeaders(key, head); });
    QUARRY_ASSIGN_OR_RETURN(auto resp, client_->Call({.op = "read",
                                                      .method = "GET",
                                                      .bucket = bucket,
                                                      .key = key,
                                                      .headers = std::move(headers),
                                                      .sink = body.body(),
                                                      .expected = {200, 206, 416}}));
    if (resp.status == 416) return uint64_t{0};  // offset at or past the end
    return body.written();
  }

  using ObjectStore::Put;
  Status Put(std::string_view bucket, std::string_view key, std::string_view data,
             const PutOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    return S3PutObject(*client_, bucket, key, data, options);
  }

  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket, std::string_view key,
                                                   const PutOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    return MakeS3Writer(client_, std::string(bucket), std::string(key), options);
  }

  Status DeleteObjects(std::string_view bucket, const std::vector<std::string>& keys) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    // A key XML cannot carry goes by its own DELETE; the rest in DeleteObjects batches.
    std::vector<const std::string*> batchable;
    batchable.reserve(keys.size());
    for (const auto& key : keys) {
      if (XmlCanCarry(key)) {
        batchable.push_back(&key);
        continue;
      }
      QUARRY_RETURN_IF_ERROR(client_
                                 ->Call({.op = "delete",
                                         .method = "DELETE",
                                         .bucket = bucket,
                                         .key = key,
                                         .expected = {204, 200, 404}})
                                 .status());
    }
    constexpr size_t kBatch = 1000;  // the S3 limit per DeleteObjects request
    for (size_t i = 0; i < batchable.size(); i += kBatch) {
      std::string body = "<Delete><Quiet>true</Quiet>";
      for (size_t j = i; j < std::min(batchable.size(), i + kBatch); ++j) {
        body += "<Object><Key>" + XmlEscape(*batchable[j]) + "</Key></Object>";
      }
      body += "</Delete>";
      QUARRY_ASSIGN_OR_RETURN(auto resp,
                              client_->Send({.method = "POST",
                                             .bucket = bucket,
                                             .on_bucket = true,
                                             .query = {{"delete", ""}},
                                             .headers = {{"content-md5", Base64Md5(body)},
                                                         {"content-type", "application/xml"}},
                                             .body = body}));
      if (resp.status != 200) return client_->ErrorFor("delete", bucket, *batchable[i], resp);
      pugi::xml_document doc;
      doc.load_buffer(resp.body.data(), resp.body.size());
      auto err = doc.child("DeleteResult").child("Error");
      if (err) {
        return Status(StatusCode::kIoError, "delete of " + scheme_text() + "://" +
                                                std::string(bucket) + "/" + err.child_value("Key") +
                                                " failed: " + err.child_value("Code") + " " +
                                                err.child_value("Message"));
      }
    }
    return Status::Ok();
  }

  Result<std::vector<BucketInfo>> ListBuckets() override {
    std::vector<BucketInfo> buckets;
    std::string continuation;
    do {
      std::vector<std::pair<std::string, std::string>> query;
      if (!continuation.empty()) query.emplace_back("continuation-token", continuation);
      QUARRY_ASSIGN_OR_RETURN(
          auto resp,
          client_->Call({.op = "list buckets", .method = "GET", .query = std::move(query)}));
      pugi::xml_document doc;
      if (!doc.load_buffer(resp.body.data(), resp.body.size())) {
        return Status(StatusCode::kIoError, "list buckets: malformed reply from " + endpoint());
      }
      auto root = doc.child("ListAllMyBucketsResult");
      for (auto b = root.child("Buckets").child("Bucket"); b; b = b.next_sibling("Bucket")) {
        buckets.push_back({b.child_value("Name"), b.child_value("CreationDate")});
      }
      continuation = root.child_value("ContinuationToken");
    } while (!continuation.empty());
    std::sort(buckets.begin(), buckets.end(),
              [](const BucketInfo& a, const BucketInfo& b) { return a.name < b.name; });
    return buckets;
  }

  Status CreateBucket(std::string_view bucket) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            client_->Send({.method = "PUT", .bucket = bucket, .on_bucket = true}));
    if (resp.status == 200) return Status::Ok();
    if (resp.body.find("BucketAlreadyOwnedByYou") != std::string::npos) return Status::Ok();
    return client_->ErrorFor("create bucket", bucket, "", resp);
  }

  Status DeleteBucket(std::string_view bucket) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    return client_
        ->Call({.op = "delete bucket",
                .method = "DELETE",
                .bucket = bucket,
                .on_bucket = true,
                .expected = {204, 200}})
        .status();
  }

  Result<std::string> PresignGet(std::string_view bucket, std::string_view key,
                                 int64_t expires_seconds) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    const S3Settings& s = client_->settings();
    const S3Address address = S3AddressOf(s, bucket, key, /*on_bucket=*/false);
    auth::SignableRequest sr;
    sr.method = "GET";
    sr.host = address.host;
    sr.encoded_path = address.path;
    QUARRY_ASSIGN_OR_RETURN(auto cred, client_->tokens().Get());
    if (cred.kind != auth::Credential::Kind::kKeys) {
      return InvalidArgument("presigned URLs need access keys; " + client_->Who() + " has none");
    }
    return auth::PresignUrl(s.endpoint_scheme, sr, cred.keys, s.region, "s3", std::time(nullptr),
                            expires_seconds);
  }

 private:
  Status CheckBucket(std::string_view bucket) const {
    if (bucket.empty()) {
      return InvalidArgument(scheme_text() + " URIs need a bucket: " + scheme_text() +
                             "://bucket/key");
    }
    return Status::Ok();
  }

  const std::string& scheme_text() const { return client_->settings().scheme; }

  std::shared_ptr<S3Client> client_;
};

}  // namespace

Result<StorageOptions> FetchShippableCredentials(std::string_view scheme,
                                                 const StorageOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(auto store, MakeS3Store(scheme, options));
  auto& s3 = static_cast<S3Store&>(*store);
  QUARRY_ASSIGN_OR_RETURN(auto cred, s3.tokens().Get());
  return auth::WithFetchedCredential(options, cred);
}

Result<std::shared_ptr<ObjectStore>> MakeS3Store(std::string_view scheme,
                                                 const StorageOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(auto settings, S3SettingsFrom(scheme, options));
  QUARRY_ASSIGN_OR_RETURN(auto http_options, S3HttpOptionsFrom(options));
  auto client = std::make_shared<S3Client>(std::move(settings), std::move(http_options));
  QUARRY_RETURN_IF_ERROR(client->InitCredentials(options));
  return std::shared_ptr<ObjectStore>(std::make_shared<S3Store>(std::move(client)));
}

}  // namespace quarry
