// S3-compatible backend: SigV4-signed REST calls over the shared HttpClient.
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <pugixml.hpp>

#include "auth/credentials.h"
#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/key_rules.h"
#include "quarry/request_counters.h"
#include "storage/backends.h"
#include "storage/bounded_body.h"
#include "storage/s3_xml.h"
#include "storage/store_options.h"

namespace quarry {
namespace {

using http::HttpRequest;
using http::HttpResponse;

constexpr uint64_t kMiB = uint64_t{1024} * 1024;

struct S3Settings {
  std::string scheme;
  std::string endpoint_scheme;  // "http" or "https"
  std::string endpoint_host;    // "127.0.0.1:7480"
  std::string region;
  bool virtual_hosting = false;
  auth::AwsCredentials creds;
  uint64_t multipart_threshold = 16 * kMiB;
  uint64_t part_size = 16 * kMiB;
  std::string service_instance_id;  // IBM COS: needed to create buckets with a bearer token
};

// The headers that store PutOptions with an object (on PUT, or on starting a multipart upload).
http::HeaderList MetadataHeaders(const PutOptions& options) {
  http::HeaderList headers;
  if (!options.content_type.empty()) headers.emplace_back("content-type", options.content_type);
  if (!options.content_encoding.empty()) {
    headers.emplace_back("content-encoding", options.content_encoding);
  }
  return headers;
}

// "Wed, 21 Oct 2015 07:28:00 GMT" → "2015-10-21T07:28:00.000Z"; unchanged if unparsable.
std::string HttpDateToIso(std::string_view http_date) {
  std::tm tm{};
  std::string s(http_date);
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) return s;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

// What a HEAD's or GET's response headers say about the object; the size from Content-Range's
// total when the reply is partial, else from Content-Length.
ObjectInfo InfoFromHeaders(std::string_view key, const HttpResponse& head) {
  ObjectInfo info;
  info.key = std::string(key);
  info.etag = StripQuotes(head.Header("etag"));
  info.last_modified = HttpDateToIso(head.Header("last-modified"));
  info.content_type = std::string(head.Header("content-type"));
  info.content_encoding = std::string(head.Header("content-encoding"));
  std::string_view range = head.Header("content-range");  // "bytes 0-99/12345"
  if (auto slash = range.rfind('/'); slash != std::string_view::npos) {
    std::from_chars(range.data() + slash + 1, range.data() + range.size(), info.size);
  } else {
    auto len = head.Header("content-length");
    std::from_chars(len.data(), len.data() + len.size(), info.size);
  }
  return info;
}

std::string Base64Md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, md, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

class S3Store;

class S3Lister final : public Lister {
 public:
  S3Lister(S3Store* store, std::string bucket, std::string prefix, ListOptions options)
      : store_(store),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        options_(std::move(options)) {}
  Result<bool> Next(ListPage* page) override;

 private:
  S3Store* store_;
  std::string bucket_, prefix_;
  ListOptions options_;
  std::string continuation_;
  bool done_ = false;
};

class S3Store final : public ObjectStore, public std::enable_shared_from_this<S3Store> {
 public:
  S3Store(S3Settings settings, http::HttpClientOptions http_options)
      : s_(std::move(settings)), http_(std::move(http_options)) {}

  Status InitCredentials(const StorageOptions& options) {
    QUARRY_ASSIGN_OR_RETURN(
        tokens_, auth::MakeTokenCache(options, s_.region, DefaultStsEndpoint(options), &http_));
    return Status::Ok();
  }

  std::string DefaultStsEndpoint(const StorageOptions& options) const {
    // RGW and MinIO serve STS on their S3 endpoint; AWS has its own.
    return options.count("endpoint") ? endpoint() : "https://sts." + s_.region + ".amazonaws.com";
  }

  auth::TokenCache& tokens() { return *tokens_; }

  std::string_view scheme() const override { return s_.scheme; }
  std::string endpoint() const override { return s_.endpoint_scheme + "://" + s_.endpoint_host; }

  StoreStats stats() const override { return ReadCounts(http_.stats()); }

  Result<std::unique_ptr<Lister>> List(std::string_view bucket, std::string_view prefix,
                                       const ListOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    return std::unique_ptr<Lister>(
        new S3Lister(this, std::string(bucket), std::string(prefix), options));
  }

  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(s_.scheme, bucket, key));
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("HEAD", bucket, key, {}, {}, {}, nullptr));
    if (resp.status != 200) {
      // A HEAD reply has no body to say why (missing bucket or key, expired token...): ask
      // again with a one-byte GET, whose error reply names the cause.
      auto probe = Call("GET", bucket, key, {}, {{"range", "bytes=0-0"}}, {}, nullptr);
      if (probe.ok() && probe->status >= 400 && probe->status != 416 && !probe->body.empty()) {
        return ErrorFor("stat", bucket, key, *probe);
      }
      return ErrorFor("stat", bucket, key, resp);
    }
    return InfoFromHeaders(key, resp);
  }

  Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(s_.scheme, bucket, key));
    if (length == 0) return uint64_t{0};
    http::HeaderList headers;
    // A read of the whole object goes without a Range header: RGW serves plain GETs of small
    // objects about 20% faster than ranged ones.
    const bool whole = offset == 0 && (length == UINT64_MAX ||
                                       (options.object_size && length >= *options.object_size));
    if (!whole) {
      std::string range = "bytes=" + std::to_string(offset) + "-";
      if (length != UINT64_MAX) range += std::to_string(offset + length - 1);
      headers.emplace_back("range", std::move(range));
    }
    if (!options.if_match.empty()) headers.emplace_back("if-match", "\"" + options.if_match + "\"");
    BoundedBody body(
        sink, length,
        [&] {
          return Status(StatusCode::kPreconditionFailed,
                        "read " + s_.scheme + "://" + std::string(bucket) + "/" + std::string(key) +
                            ": the object is larger than when it was listed (it changed while "
                            "being read): rerun on the new version");
        },
        [&](const HttpResponse& head) -> Result<ObjectInfo> { return InfoFromHeaders(key, head); });
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("GET", bucket, key, {}, headers, {}, body.body()));
    if (resp.status == 416) return uint64_t{0};  // offset at or past the end
    if (resp.status != 200 && resp.status != 206) return ErrorFor("read", bucket, key, resp);
    return body.written();
  }

  using ObjectStore::Put;
  Status Put(std::string_view bucket, std::string_view key, std::string_view data,
             const PutOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            Call("PUT", bucket, key, {}, MetadataHeaders(options), data, nullptr));
    if (resp.status != 200) return ErrorFor("write", bucket, key, resp);
    return Status::Ok();
  }

  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket, std::string_view key,
                                                   const PutOptions& options) override;

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
      QUARRY_ASSIGN_OR_RETURN(auto resp, Call("DELETE", bucket, key, {}, {}, {}, nullptr, true));
      if (resp.status != 204 && resp.status != 200 && resp.status != 404) {
        return ErrorFor("delete", bucket, key, resp);
      }
    }
    constexpr size_t kBatch = 1000;  // the S3 limit per DeleteObjects request
    for (size_t i = 0; i < batchable.size(); i += kBatch) {
      std::string body = "<Delete><Quiet>true</Quiet>";
      for (size_t j = i; j < std::min(batchable.size(), i + kBatch); ++j) {
        body += "<Object><Key>" + XmlEscape(*batchable[j]) + "</Key></Object>";
      }
      body += "</Delete>";
      http::HeaderList headers = {{"content-md5", Base64Md5(body)},
                                  {"content-type", "application/xml"}};
      QUARRY_ASSIGN_OR_RETURN(
          auto resp, Call("POST", bucket, "", {{"delete", ""}}, headers, body, nullptr, true));
      if (resp.status != 200) return ErrorFor("delete", bucket, *batchable[i], resp);
      pugi::xml_document doc;
      doc.load_buffer(resp.body.data(), resp.body.size());
      auto err = doc.child("DeleteResult").child("Error");
      if (err) {
        return Status(StatusCode::kIoError, "delete of " + s_.scheme + "://" + std::string(bucket) +
                                                "/" + err.child_value("Key") +
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
      QUARRY_ASSIGN_OR_RETURN(auto resp, Call("GET", "", "", query, {}, {}, nullptr, true));
      if (resp.status != 200) return ErrorFor("list buckets", "", "", resp);
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
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("PUT", bucket, "", {}, {}, {}, nullptr, true));
    if (resp.status == 200) return Status::Ok();
    if (resp.body.find("BucketAlreadyOwnedByYou") != std::string::npos) return Status::Ok();
    return ErrorFor("create bucket", bucket, "", resp);
  }

  Status DeleteBucket(std::string_view bucket) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("DELETE", bucket, "", {}, {}, {}, nullptr, true));
    if (resp.status == 204 || resp.status == 200) return Status::Ok();
    return ErrorFor("delete bucket", bucket, "", resp);
  }

  Result<std::string> PresignGet(std::string_view bucket, std::string_view key,
                                 int64_t expires_seconds) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    auth::SignableRequest sr;
    sr.method = "GET";
    if (s_.virtual_hosting) {
      sr.host = std::string(bucket) + "." + s_.endpoint_host;
      sr.encoded_path = "/" + auth::UriEncodePath(key);
    } else {
      sr.host = s_.endpoint_host;
      sr.encoded_path = "/" + std::string(bucket) + "/" + auth::UriEncodePath(key);
    }
    QUARRY_ASSIGN_OR_RETURN(auto cred, tokens_->Get());
    if (cred.kind != auth::Credential::Kind::kKeys) {
      return InvalidArgument("presigned URLs need access keys; " + Who() + " has none");
    }
    return auth::PresignUrl(s_.endpoint_scheme, sr, cred.keys, s_.region, "s3", std::time(nullptr),
                            expires_seconds);
  }

  // Sends one signed request (with retries). `bucket_op` marks requests on the bucket itself,
  // whose path is "/bucket" (path style) rather than "/bucket/key".
  Result<HttpResponse> Call(const std::string& method, std::string_view bucket,
                            std::string_view key,
                            const std::vector<std::pair<std::string, std::string>>& query,
                            const http::HeaderList& headers, std::string_view body,
                            http::BodySink* sink, bool bucket_op = false) {
    std::string host, path;
    if (bucket.empty()) {  // the service itself (ListBuckets)
      host = s_.endpoint_host;
      path = "/";
    } else if (s_.virtual_hosting) {
      host = std::string(bucket) + "." + s_.endpoint_host;
      path = "/" + auth::UriEncodePath(key);
    } else {
      host = s_.endpoint_host;
      path = "/" + std::string(bucket);
      if (!bucket_op || !key.empty()) path += "/" + auth::UriEncodePath(key);
    }
    std::string url = s_.endpoint_scheme + "://" + host + path;
    std::string qs = auth::CanonicalQueryString(query);
    if (!qs.empty()) url += "?" + qs;
    std::string payload_hash = "UNSIGNED-PAYLOAD";
    // Small control bodies (DeleteObjects, CompleteMultipartUpload) are signed; data is not.
    if (!body.empty() && method == "POST") payload_hash = auth::Sha256Hex(body);

    for (int attempt = 0;; ++attempt) {
      QUARRY_ASSIGN_OR_RETURN(auto cred, tokens_->Get());
      auto resp = http_.Send(
          [&](HttpRequest* req) {
            req->method = method;
            req->url = url;
            req->body = body;
            req->headers = headers;
            if (cred.kind == auth::Credential::Kind::kKeys) {
              auth::SignableRequest sr;
              sr.method = method;
              sr.host = host;
              sr.encoded_path = path;
              sr.query = query;
              sr.headers = headers;
              sr.payload_hash = payload_hash;
              for (auto& h :
                   auth::SignRequest(sr, cred.keys, s_.region, "s3", std::time(nullptr))) {
                req->headers.push_back(std::move(h));
              }
            } else if (cred.kind == auth::Credential::Kind::kBearer) {
              req->headers.emplace_back("authorization", "Bearer " + cred.bearer);
              if (!s_.service_instance_id.empty() && bucket_op && method == "PUT") {
                req->headers.emplace_back("ibm-service-instance-id", s_.service_instance_id);
              }
            }
            return Status::Ok();
          },
          sink);
      // A session the server calls expired: fetch a new one once, then try again.
      if (attempt == 0 && resp.ok() && IsExpiredSession(*resp) && tokens_->Refresh().ok()) {
        if (sink != nullptr && sink->reset) sink->reset();
        continue;
      }
      return resp;
    }
  }

  static bool IsExpiredSession(const HttpResponse& resp) {
    if (resp.status != 400 && resp.status != 401 && resp.status != 403) return false;
    for (const char* code : {"<Code>ExpiredToken</Code>", "<Code>InvalidToken</Code>",
                             "<Code>TokenRefreshRequired</Code>"}) {
      if (resp.body.find(code) != std::string::npos) return true;
    }
    return false;
  }

  // The credential in use, for messages (never a secret).
  std::string Who() const { return tokens_->provider().Describe(); }

  // Maps a non-2xx reply to a Status that names what failed and how to fix it.
  Status ErrorFor(std::string_view op, std::string_view bucket, std::string_view key,
                  const HttpResponse& resp) const {
    auto [code, message] = ParseS3ErrorReply(resp.body);
    std::string uri = s_.scheme + "://" + std::string(bucket);
    if (!key.empty()) uri += "/" + std::string(key);
    const std::string where = " at endpoint " + endpoint();
    const int st = resp.status;
    auto make = [&](StatusCode c, const std::string& msg) {
      return Status(c, std::string(op) + " " + uri + ": " + msg, st, IsRetryableS3Reply(resp));
    };
    if (code == "NoSuchBucket") {
      return make(StatusCode::kNotFound, "bucket '" + std::string(bucket) + "' does not exist" +
                                             where + ": check the bucket name or create it");
    }
    if (code == "NoSuchKey" || (st == 404 && code.empty() && !key.empty())) {
      return make(StatusCode::kNotFound, "no object with key '" + std::string(key) +
                                             "' in bucket '" + std::string(bucket) + "'" + where);
    }
    if (code == "SignatureDoesNotMatch") {
      return make(StatusCode::kPermissionDenied,
                  "the server" + where + " rejected the request signature of " + Who() +
                      " (SignatureDoesNotMatch): check the secret key (secret_access_key / "
                      "AWS_SECRET_ACCESS_KEY)");
    }
    if (code == "InvalidAccessKeyId") {
      return make(StatusCode::kPermissionDenied,
                  Who() + " is unknown" + where +
                      " (InvalidAccessKeyId): check access_key_id / AWS_ACCESS_KEY_ID");
    }
    if (IsExpiredSession(resp)) {
      return make(StatusCode::kPermissionDenied,
                  "the session of " + Who() + " was rejected" + where + " (" + code +
                      "), also after fetching a new one: for a fixed session token, get a new "
                      "one (or give role_arn / api_key so that Quarry fetches and refreshes "
                      "tokens itself)");
    }
    if (st == 403 || code == "AccessDenied") {
      const bool anonymous = Who() == "anonymous access";
      std::string who = anonymous ? std::string(
                                        "anonymous request (no credentials found: set "
                                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
                                  : Who();
      std::string hint = anonymous ? ""
                                   : ": check that the secret key (secret_access_key / "
                                     "AWS_SECRET_ACCESS_KEY) belongs to this access key id, or "
                                     "the token, and that it may use this bucket";
      return make(
          StatusCode::kPermissionDenied,
          "access denied" + where + " for " + who + (code.empty() ? "" : " (" + code + ")") + hint);
    }
    if (st == 412) {
      return make(StatusCode::kPreconditionFailed,
                  "the object changed while it was being read (ETag no longer matches): rerun "
                  "the job on the new version");
    }
    if (st == 404) {
      return make(StatusCode::kNotFound,
                  "not found" + where + (code.empty() ? "" : " (" + code + ")"));
    }
    if (code == "BucketAlreadyExists") {
      return make(
          StatusCode::kPermissionDenied,
          "bucket '" + std::string(bucket) + "' already exists and belongs to another user");
    }
    StatusCode sc = (st >= 500 || st == 429) ? StatusCode::kUnavailable
                    : st == 400              ? StatusCode::kInvalidArgument
                                             : StatusCode::kIoError;
    std::string detail = "HTTP " + std::to_string(st);
    if (!code.empty()) detail += " " + code;
    if (!message.empty()) detail += ": " + message;
    if (sc == StatusCode::kUnavailable) detail += " (gave up after retries)";
    return make(sc, detail + where);
  }

  const S3Settings& settings() const { return s_; }
  http::HttpClient& client() { return http_; }

 private:
  Status CheckBucket(std::string_view bucket) const {
    if (bucket.empty()) {
      return InvalidArgument(s_.scheme + " URIs need a bucket: " + s_.scheme + "://bucket/key");
    }
    return Status::Ok();
  }

  S3Settings s_;
  http::HttpClient http_;
  std::shared_ptr<auth::TokenCache> tokens_;
};

Result<bool> S3Lister::Next(ListPage* page) {
  page->objects.clear();
  page->common_prefixes.clear();
  if (done_) return false;
  std::vector<std::pair<std::string, std::string>> query = {
      {"list-type", "2"},
      {"encoding-type", "url"},
      {"max-keys", std::to_string(options_.page_size)},
      {"prefix", prefix_}};
  if (!options_.delimiter.empty()) query.emplace_back("delimiter", options_.delimiter);
  if (!continuation_.empty()) {
    query.emplace_back("continuation-token", continuation_);
  } else if (!options_.start_after.empty()) {
    query.emplace_back("start-after", options_.start_after);
  }
  QUARRY_ASSIGN_OR_RETURN(auto resp,
                          store_->Call("GET", bucket_, "", query, {}, {}, nullptr, true));
  if (resp.status != 200) return store_->ErrorFor("list", bucket_, prefix_, resp);
  auto parsed = ParseListObjectsV2(resp.body);
  if (!parsed.ok()) {
    return Status(StatusCode::kIoError, "list " + store_->settings().scheme + "://" + bucket_ +
                                            "/" + prefix_ + ": malformed reply from " +
                                            store_->endpoint() + ": " + parsed.status().message());
  }
  *page = std::move(parsed->page);
  const bool truncated = parsed->truncated;
  continuation_ = std::move(parsed->next_continuation_token);
  if (!truncated || continuation_.empty()) done_ = true;
  return true;
}

// Multipart upload. Up to kPartsInFlight parts go up at once while the caller writes: the whole
// parts a Write covers straight from the caller's memory (Write waits for them before it
// returns), the rest gathered in part buffers of the writer's own, which are reused from part to
// part: a buffer is made only when none is free, so there are never more than kPartsInFlight + 1
// (one being filled), plus, before the upload starts, those holding the bytes below
// multipart_threshold when it is larger than part_size.
class S3Writer final : public ObjectWriter {
 public:
  S3Writer(std::shared_ptr<S3Store> store, std::string bucket, std::string key, PutOptions options)
      : store_(std::move(store)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        options_(std::move(options)),
        part_size_(static_cast<size_t>(store_->settings().part_size)),
        // An empty object is one PUT whatever the threshold.
        threshold_(std::max<uint64_t>(1, store_->settings().multipart_threshold)) {}

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
      if (held_.empty()) return store_->Put(bucket_, key_, filling_.view(), options_);
      std::string body;
      body.reserve(static_cast<size_t>(written_));
      for (const auto& b : held_) body.append(b.view());
      body.append(filling_.view());
      return store_->Put(bucket_, key_, body, options_);
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
    auto resp = store_->Call("POST", bucket_, key_, {{"uploadId", upload_id_}},
                             {{"content-type", "application/xml"}}, body, nullptr);
    if (!resp.ok()) return Fail(resp.status());
    // CompleteMultipartUpload can answer 200 with an <Error> body.
    if (resp->status != 200 || resp->body.find("<Error>") != std::string::npos) {
      return Fail(store_->ErrorFor("complete upload", bucket_, key_, *resp));
    }
    return Status::Ok();
  }

  std::string UriText() const { return store_->settings().scheme + "://" + bucket_ + "/" + key_; }

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
      (void)store_->Call("DELETE", bucket_, key_, {{"uploadId", upload_id_}}, {}, {}, nullptr);
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
    QUARRY_ASSIGN_OR_RETURN(auto resp, store_->Call("POST", bucket_, key_, {{"uploads", ""}},
                                                    MetadataHeaders(options_), {}, nullptr));
    if (resp.status != 200) return store_->ErrorFor("start upload", bucket_, key_, resp);
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
    auto done =
        std::async(std::launch::async,
                   [this, part_index, body, counters = CurrentRequestCountersShared()]() -> Status {
                     CountRequestsInto count(counters);
                     auto resp = store_->Call(
                         "PUT", bucket_, key_,
                         {{"partNumber", std::to_string(part_index + 1)}, {"uploadId", upload_id_}},
                         {}, body, nullptr);
                     if (!resp.ok()) return resp.status();
                     if (resp->status != 200)
                       return store_->ErrorFor("upload part", bucket_, key_, *resp);
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

  std::shared_ptr<S3Store> store_;
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

Result<std::unique_ptr<ObjectWriter>> S3Store::OpenWriter(std::string_view bucket,
                                                          std::string_view key,
                                                          const PutOptions& options) {
  QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
  return std::unique_ptr<ObjectWriter>(
      new S3Writer(shared_from_this(), std::string(bucket), std::string(key), options));
}

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
  S3Settings s;
  s.scheme = std::string(scheme);
  const bool is_cos = scheme == "cos";
  s.region = OptionText(options, "region", is_cos ? "us-south" : "us-east-1");
  std::string endpoint = OptionText(options, "endpoint");
  if (endpoint.empty()) {
    endpoint = is_cos ? "https://s3." + s.region + ".cloud-object-storage.appdomain.cloud"
                      : "https://s3." + s.region + ".amazonaws.com";
  }
  auto sep = endpoint.find("://");
  if (sep == std::string::npos) endpoint = "https://" + endpoint;
  sep = endpoint.find("://");
  s.endpoint_scheme = endpoint.substr(0, sep);
  if (s.endpoint_scheme != "http" && s.endpoint_scheme != "https") {
    return InvalidArgument("endpoint '" + endpoint + "' must start with http:// or https://");
  }
  s.endpoint_host = endpoint.substr(sep + 3);
  while (!s.endpoint_host.empty() && s.endpoint_host.back() == '/') s.endpoint_host.pop_back();
  if (s.endpoint_host.empty() || s.endpoint_host.find('/') != std::string::npos) {
    return InvalidArgument("endpoint '" + endpoint + "' must be scheme://host[:port]");
  }
  std::string style = OptionText(options, "addressing_style", "auto");
  if (style == "virtual") {
    s.virtual_hosting = true;
  } else if (style == "path") {
    s.virtual_hosting = false;
  } else if (style == "auto") {
    // Custom endpoints (IPs, localhost, anything given explicitly) use path style.
    s.virtual_hosting =
        OptionText(options, "endpoint").empty() && !IsIpOrLocalHost(s.endpoint_host);
  } else {
    return InvalidArgument("addressing_style '" + style + "' is not one of auto, path, virtual");
  }
  s.creds.access_key_id = OptionText(options, "access_key_id");
  s.creds.secret_access_key = OptionText(options, "secret_access_key");
  s.creds.session_token = OptionText(options, "session_token");
  if (!s.creds.access_key_id.empty() && s.creds.secret_access_key.empty() &&
      OptionText(options, "api_key").empty()) {
    return InvalidArgument("access key id '" + s.creds.access_key_id +
                           "' is set but no secret key: set secret_access_key or "
                           "AWS_SECRET_ACCESS_KEY");
  }
  constexpr uint64_t kMaxPart = uint64_t{5} << 30;  // S3's largest part
  QUARRY_ASSIGN_OR_RETURN(s.part_size,
                          OptionCount(options, "part_size", 16 * kMiB, 5 * kMiB, kMaxPart,
                                      "bytes per uploaded part (S3 allows 5 MiB to 5 GiB)"));
  QUARRY_ASSIGN_OR_RETURN(s.multipart_threshold,
                          OptionCount(options, "multipart_threshold", 16 * kMiB, 1, kMaxPart,
                                      "bytes above which uploads go in parts"));
  QUARRY_ASSIGN_OR_RETURN(auto http_options, HttpClientOptionsFrom(options));
  http_options.retryable_reply = IsRetryableS3Reply;
  s.service_instance_id = OptionText(options, "service_instance_id");
  auto store = std::make_shared<S3Store>(std::move(s), http_options);
  QUARRY_RETURN_IF_ERROR(store->InitCredentials(options));
  return std::shared_ptr<ObjectStore>(std::move(store));
}

}  // namespace quarry
