// Google Cloud Storage backend: JSON API calls with OAuth2 bearer tokens over the shared
// HttpClient (one retry policy) and the shared TokenCache (one refresh at a time).
#include "storage/gcs_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "auth/credentials.h"
#include "auth/google_oauth.h"
#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/key_rules.h"
#include "storage/bounded_body.h"
#include "storage/failed_reply.h"
#include "storage/part_writer.h"
#include "storage/reply_headers.h"
#include "storage/store_options.h"

namespace quarry {
namespace {

using http::HttpResponse;
using Json = nlohmann::json;
using Query = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kMiB = uint64_t{1024} * 1024;
// Every chunk of a resumable upload but the last is a multiple of this.
constexpr uint64_t kChunkQuantum = uint64_t{256} * 1024;
constexpr const char* kGoogleEndpoint = "https://storage.googleapis.com";
// Stands in for a project on endpoints other than Google's (emulators take any).
constexpr const char* kEmulatorProject = "quarry";

struct GcsSettings {
  std::string endpoint;          // "http://127.0.0.1:4443", no trailing '/'
  std::string project;           // "" when none is known
  std::string credentials_path;  // a key file, for signing URLs; "" when none
  uint64_t multipart_threshold = 16 * kMiB;
  uint64_t part_size = 16 * kMiB;
};

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

std::string Encode(std::string_view s) { return auth::UriEncode(s, /*keep_slash=*/false); }

std::string WithQuery(std::string url, const Query& query) {
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : query) {
    url += sep;
    url += Encode(k) + "=" + Encode(v);
    sep = '&';
  }
  return url;
}

std::string StringField(const Json& j, const char* name) {
  if (!j.is_object()) return {};
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t NumberText(std::string_view text) {
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

// GCS writes numbers of 64 bits as strings ("size": "5"); accepts plain numbers too.
uint64_t NumberField(const Json& j, const char* name) {
  if (!j.is_object()) return 0;
  auto it = j.find(name);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  return it->is_string() ? NumberText(it->get<std::string>()) : 0;
}

// "2026-12-02T01:22:30.074089Z" → "2026-12-02T01:22:30.074Z", the form S3 listings have.
std::string NormalizeTime(std::string_view t) {
  if (t.size() < 19) return std::string(t);
  std::string out(t.substr(0, 19));
  std::string fraction;
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) {
      fraction.push_back(t[i]);
    }
  }
  fraction.resize(3, '0');
  return out + "." + fraction + "Z";
}

ObjectInfo InfoFromJson(const Json& item) {
  ObjectInfo info;
  info.key = StringField(item, "name");
  info.size = NumberField(item, "size");
  info.etag = StringField(item, "generation");
  info.last_modified = NormalizeTime(StringField(item, "updated"));
  info.content_type = StringField(item, "contentType");
  info.content_encoding = StringField(item, "contentEncoding");
  return info;
}

// What a media download's headers say about the object: the generation as its ETag, the size
// from Content-Range's total when partial, else the stored length.
ObjectInfo GcsInfoFromHeaders(std::string_view key, const HttpResponse& head) {
  ObjectInfo info = InfoFromHeaders(key, head);
  info.etag = std::string(head.Header("x-goog-generation"));
  if (std::string_view stored = head.Header("x-goog-stored-content-encoding");
      info.content_encoding.empty() && stored != "identity") {
    info.content_encoding = std::string(stored);
  }
  if (!head.Header("x-goog-stored-content-length").empty()) {
    info.size = ObjectSizeFromHeaders(head, "x-goog-stored-content-length");
  }
  return info;
}

struct GcsError {
  std::string reason;   // "notFound", "forbidden", "conflict", ...
  std::string message;  // the server's words
};

GcsError ParseGcsError(std::string_view body) {
  GcsError e;
  auto j = Json::parse(body, nullptr, false);
  if (!j.is_object()) return e;
  auto err = j.find("error");
  if (err == j.end() || !err->is_object()) return e;
  e.message = StringField(*err, "message");
  auto list = err->find("errors");
  if (list != err->end() && list->is_array() && !list->empty()) {
    e.reason = StringField((*list)[0], "reason");
  }
  return e;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

constexpr const char* kGivenToken = "the bearer token given in 'token'";

// A credential that never changes: none (anonymous) or a bearer token given as it is.
class FixedCredential final : public auth::CredentialProvider {
 public:
  explicit FixedCredential(auth::Credential c) : c_(std::move(c)) {}
  Result<auth::Credential> Fetch() override { return c_; }
  std::string Describe() const override {
    return c_.kind == auth::Credential::Kind::kAnonymous ? "anonymous access" : kGivenToken;
  }

 private:
  auth::Credential c_;
};

class GcsStore;

class GcsLister final : public Lister {
 public:
  GcsLister(GcsStore* store, std::string bucket, std::string prefix, ListOptions options)
      : store_(store),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        options_(std::move(options)) {}
  Result<bool> Next(ListPage* page) override;

 private:
  GcsStore* store_;
  std::string bucket_, prefix_;
  ListOptions options_;
  std::string page_token_;
  std::string last_prefix_;  // prefixes come again on later pages of some servers: skip them
  bool done_ = false;
};

class GcsStore final : public ObjectStore, public std::enable_shared_from_this<GcsStore> {
 public:
  GcsStore(GcsSettings settings, http::HttpClientOptions http_options)
      : s_(std::move(settings)), http_(std::move(http_options)) {}

  void SetCredentials(std::shared_ptr<auth::TokenCache> tokens) { tokens_ = std::move(tokens); }
  auth::TokenCache& tokens() { return *tokens_; }
  http::HttpClient& client() { return http_; }
  const GcsSettings& settings() const { return s_; }

  std::string_view scheme() const override { return "gs"; }
  std::string endpoint() const override { return s_.endpoint; }

  StoreStats stats() const override { return ReadCounts(http_.stats()); }

  std::string BucketUrl(std::string_view bucket) const {
    return s_.endpoint + "/storage/v1/b/" + Encode(bucket);
  }
  std::string ObjectUrl(std::string_view bucket, std::string_view key) const {
    return BucketUrl(bucket) + "/o/" + Encode(key);
  }
  std::string UploadUrl(std::string_view bucket) const {
    return s_.endpoint + "/upload/storage/v1/b/" + Encode(bucket) + "/o";
  }

  Result<std::unique_ptr<Lister>> List(std::string_view bucket, std::string_view prefix,
                                       const ListOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    return std::unique_ptr<Lister>(
        new GcsLister(this, std::string(bucket), std::string(prefix), options));
  }

  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey("gs", bucket, key));
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("GET", ObjectUrl(bucket, key), {}, {}, nullptr));
    if (resp.status != 200) return ErrorFor("stat", bucket, key, resp, /*object=*/true);
    auto j = Json::parse(resp.body, nullptr, false);
    if (!j.is_object()) return Malformed("stat", bucket, key);
    return InfoFromJson(j);
  }

  Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey("gs", bucket, key));
    if (length == 0) return uint64_t{0};
    // Raw bytes as stored: without this, Google serves objects stored with Content-Encoding gzip
    // decompressed (and ranges of the decompressed bytes).
    http::HeaderList headers = {{"accept-encoding", "gzip"}};
    if (!ReadsWholeObject(offset, length, options.object_size)) {
      headers.emplace_back("range", ByteRangeHeader(offset, length));
    }
    Query query = {{"alt", "media"}};
    const std::string& pinned = options.if_match;
    if (!pinned.empty()) query.emplace_back("ifGenerationMatch", pinned);
    const std::string uri = "gs://" + std::string(bucket) + "/" + std::string(key);
    auto changed = [&](std::string_view now) {
      return Status(StatusCode::kPreconditionFailed,
                    "read " + uri + ": the object changed while it was being read (generation " +
                        std::string(now) + ", not " + pinned +
                        " as when it was listed): rerun "
                        "the job on the new version");
    };
    // Servers that ignore ifGenerationMatch on downloads still say which generation they send:
    // its bytes must not reach the sink when it is not the pinned one.
    BoundedBody body(
        sink, length,
        [&] {
          return Status(StatusCode::kPreconditionFailed,
                        "read " + uri +
                            ": the object is larger than when it was listed (it changed while "
                            "being read): rerun on the new version");
        },
        [&](const HttpResponse& head) -> Result<ObjectInfo> {
          ObjectInfo info = GcsInfoFromHeaders(key, head);
          if (!pinned.empty() && !info.etag.empty() && info.etag != pinned)
            return changed(info.etag);
          return info;
        });
    QUARRY_ASSIGN_OR_RETURN(
        auto resp, Call("GET", WithQuery(ObjectUrl(bucket, key), query), headers, {}, body.body()));
    if (resp.status == 416) return uint64_t{0};  // offset at or past the end
    if (resp.status != 200 && resp.status != 206) {
      return ErrorFor("read", bucket, key, resp, /*object=*/true);
    }
    if (std::string_view now = resp.Header("x-goog-generation");
        !pinned.empty() && !now.empty() && now != pinned) {
      return changed(now);  // an empty body carries no bytes to stop, but it is not the pinned one
    }
    return body.written();
  }

  using ObjectStore::Put;
  Status Put(std::string_view bucket, std::string_view key, std::string_view data,
             const PutOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectName(bucket, key));
    if (data.size() < s_.multipart_threshold) return UploadInOne(bucket, key, data, options);
    // Large bodies go up in resumable chunks straight from `data`, with no copy.
    QUARRY_ASSIGN_OR_RETURN(auto writer, OpenWriter(bucket, key, options));
    QUARRY_RETURN_IF_ERROR(writer->Write(data));
    return writer->Close();
  }

  // One multipart upload (metadata and bytes in one request).
  Status UploadInOne(std::string_view bucket, std::string_view key, std::string_view data,
                     const PutOptions& options) {
    std::string boundary;
    do {
      boundary = "quarry-" + RandomHex(16);
    } while (data.find(boundary) != std::string_view::npos);
    const std::string media_type =
        options.content_type.empty() ? "application/octet-stream" : options.content_type;
    std::string body =
        "--" + boundary + "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n";
    body += Metadata(key, options).dump();
    body += "\r\n--" + boundary + "\r\nContent-Type: " + media_type + "\r\n\r\n";
    body.reserve(body.size() + data.size() + boundary.size() + 8);
    body.append(data);
    body += "\r\n--" + boundary + "--\r\n";
    QUARRY_ASSIGN_OR_RETURN(
        auto resp,
        Call("POST", WithQuery(UploadUrl(bucket), {{"uploadType", "multipart"}}),
             {{"content-type", "multipart/related; boundary=" + boundary}}, body, nullptr));
    if (resp.status != 200 && resp.status != 201) {
      return ErrorFor("write", bucket, key, resp, /*object=*/false);
    }
    return Status::Ok();
  }

  // The object resource of an upload: its name (when given) and PutOptions' metadata.
  static Json Metadata(std::string_view key, const PutOptions& options) {
    Json meta = Json::object();
    if (!key.empty()) meta["name"] = std::string(key);
    if (!options.content_type.empty()) meta["contentType"] = options.content_type;
    if (!options.content_encoding.empty()) meta["contentEncoding"] = options.content_encoding;
    return meta;
  }

  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket, std::string_view key,
                                                   const PutOptions& options) override;

  Status DeleteObjects(std::string_view bucket, const std::vector<std::string>& keys) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    // One request per key (the JSON API deletes one object per call), a few at once.
    constexpr size_t kParallel = 8;
    const size_t workers = std::min(kParallel, keys.size());
    std::vector<std::future<Status>> done;
    for (size_t w = 0; w < workers; ++w) {
      done.push_back(std::async(std::launch::async, [&, w]() -> Status {
        for (size_t i = w; i < keys.size(); i += workers) {
          QUARRY_ASSIGN_OR_RETURN(auto resp,
                                  Call("DELETE", ObjectUrl(bucket, keys[i]), {}, {}, nullptr));
          if (resp.status != 200 && resp.status != 204 && resp.status != 404) {
            return ErrorFor("delete", bucket, keys[i], resp, /*object=*/true);
          }
        }
        return Status::Ok();
      }));
    }
    Status first;
    for (auto& d : done) {
      Status s = d.get();
      if (first.ok()) first = s;
    }
    return first;
  }

  Result<std::vector<BucketInfo>> ListBuckets() override {
    QUARRY_RETURN_IF_ERROR(CheckProject("list buckets"));
    std::vector<BucketInfo> buckets;
    std::string token;
    do {
      Query query = {{"project", s_.project}};
      if (!token.empty()) query.emplace_back("pageToken", token);
      QUARRY_ASSIGN_OR_RETURN(
          auto resp, Call("GET", WithQuery(s_.endpoint + "/storage/v1/b", query), {}, {}, nullptr));
      if (resp.status != 200) return ErrorFor("list buckets", "", "", resp, false);
      auto j = Json::parse(resp.body, nullptr, false);
      if (!j.is_object()) return Malformed("list buckets", "", "");
      if (auto items = j.find("items"); items != j.end() && items->is_array()) {
        for (const auto& b : *items) {
          buckets.push_back({StringField(b, "name"), NormalizeTime(StringField(b, "timeCreated"))});
        }
      }
      token = StringField(j, "nextPageToken");
    } while (!token.empty());
    std::sort(buckets.begin(), buckets.end(),
              [](const BucketInfo& a, const BucketInfo& b) { return a.name < b.name; });
    return buckets;
  }

  Status CreateBucket(std::string_view bucket) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckProject("create bucket gs://" + std::string(bucket)));
    const std::string body = Json{{"name", std::string(bucket)}}.dump();
    QUARRY_ASSIGN_OR_RETURN(
        auto resp, Call("POST", WithQuery(s_.endpoint + "/storage/v1/b", {{"project", s_.project}}),
                        {{"content-type", "application/json"}}, body, nullptr));
    if (resp.status == 200) return Status::Ok();
    if (resp.status == 409) {
      // Bucket names are global: it is ours if these credentials can see it.
      auto mine = Call("GET", BucketUrl(bucket), {}, {}, nullptr);
      if (mine.ok() && mine->status == 200) return Status::Ok();
      return Status(StatusCode::kPermissionDenied,
                    "create bucket gs://" + std::string(bucket) + ": a bucket named '" +
                        std::string(bucket) +
                        "' already exists and belongs to another project (bucket names are "
                        "global): choose another name",
                    409);
    }
    return ErrorFor("create bucket", bucket, "", resp, false);
  }

  Status DeleteBucket(std::string_view bucket) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("DELETE", BucketUrl(bucket), {}, {}, nullptr));
    if (resp.status == 204 || resp.status == 200) return Status::Ok();
    // Google answers 409 for a bucket that still holds objects; some emulators 412.
    const GcsError e = ParseGcsError(resp.body);
    if (resp.status == 409 ||
        (resp.status == 412 && e.message.find("empty") != std::string::npos)) {
      return Status(StatusCode::kIoError,
                    "delete bucket gs://" + std::string(bucket) +
                        ": the bucket is not empty: delete its objects first (quarry rm -r gs://" +
                        std::string(bucket) + "/)",
                    resp.status);
    }
    return ErrorFor("delete bucket", bucket, "", resp, false);
  }

  Status Rewrite(std::string_view src_bucket, std::string_view src_key, std::string_view dst_bucket,
                 std::string_view dst_key) {
    QUARRY_RETURN_IF_ERROR(CheckBucket(src_bucket));
    QUARRY_RETURN_IF_ERROR(CheckBucket(dst_bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey("gs", src_bucket, src_key));
    QUARRY_RETURN_IF_ERROR(CheckObjectName(dst_bucket, dst_key));
    const std::string url = ObjectUrl(src_bucket, src_key) + "/rewriteTo/b/" + Encode(dst_bucket) +
                            "/o/" + Encode(dst_key);
    std::string token;
    for (int round = 0; round < 10000; ++round) {
      Query query;
      if (!token.empty()) query.emplace_back("rewriteToken", token);
      QUARRY_ASSIGN_OR_RETURN(
          auto resp, Call("POST", WithQuery(url, query), {{"content-type", "application/json"}},
                          "{}", nullptr));
      if (resp.status != 200) return ErrorFor("copy", src_bucket, src_key, resp, true);
      auto j = Json::parse(resp.body, nullptr, false);
      if (!j.is_object()) return Malformed("copy", src_bucket, src_key);
      if (auto d = j.find("done"); d != j.end() && d->is_boolean() && d->get<bool>()) {
        return Status::Ok();
      }
      token = StringField(j, "rewriteToken");
      if (token.empty()) return Malformed("copy", src_bucket, src_key);
    }
    return Status(StatusCode::kIoError, "copy gs://" + std::string(src_bucket) + "/" +
                                            std::string(src_key) + ": the rewrite never finished");
  }

  // A V4 signed URL, which needs a service account's key to sign with (credentials_path).
  Result<std::string> PresignGet(std::string_view bucket, std::string_view key,
                                 int64_t expires_seconds) override {
    QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey("gs", bucket, key));
    constexpr int64_t kWeek = int64_t{7} * 24 * 3600;  // the longest a V4 signed URL may live
    if (expires_seconds < 1 || expires_seconds > kWeek) {
      return InvalidArgument("presigned URLs of gs live 1 to 604800 seconds (7 days), not " +
                             std::to_string(expires_seconds));
    }
    if (s_.credentials_path.empty()) {
      return InvalidArgument(
          "presigned URLs of gs need a service account key to sign with: set credentials_path "
          "(or GOOGLE_APPLICATION_CREDENTIALS) to its JSON key file; " +
          Who() + " cannot sign");
    }
    QUARRY_ASSIGN_OR_RETURN(auto file, auth::ReadGoogleCredentialsFile(s_.credentials_path));
    return auth::MakeV4SignedUrl(file, s_.endpoint, bucket, key, expires_seconds,
                                 std::time(nullptr));
  }

  // Sends one request with the current bearer token (with the client's retries). A 401 for a
  // token Quarry fetched itself is answered by fetching a new one, once.
  Result<HttpResponse> Call(const std::string& method, const std::string& url,
                            const http::HeaderList& headers, std::string_view body,
                            http::BodySink* sink) {
    for (int attempt = 0;; ++attempt) {
      QUARRY_ASSIGN_OR_RETURN(auto cred, tokens_->Get());
      auto resp = http_.Send(
          [&](http::HttpRequest* req) {
            req->method = method;
            req->url = url;
            req->body = body;
            req->headers = headers;
            if (cred.kind == auth::Credential::Kind::kBearer) {
              req->headers.emplace_back("authorization", "Bearer " + cred.bearer);
            }
            return Status::Ok();
          },
          sink);
      if (attempt == 0 && resp.ok() && IsUnauthorized(*resp) && cred.exchanged &&
          tokens_->Refresh().ok()) {
        if (sink != nullptr && sink->reset) sink->reset();
        continue;
      }
      return resp;
    }
  }

  static bool IsUnauthorized(const HttpResponse& resp) { return resp.status == 401; }

  // The credential in use, for messages (never a secret).
  std::string Who() const { return tokens_->provider().Describe(); }

  Status Malformed(std::string_view op, std::string_view bucket, std::string_view key) const {
    return Status(StatusCode::kIoError, std::string(op) + " gs://" + std::string(bucket) + "/" +
                                            std::string(key) + ": malformed reply from " +
                                            endpoint());
  }

  // Maps a non-2xx reply to a Status naming what failed and how to fix it. `object` says the
  // request named an object (a 404 then means a missing key unless the bucket is missing: one
  // more request tells them apart, as some servers say only "Not Found").
  Status ErrorFor(std::string_view op, std::string_view bucket, std::string_view key,
                  const HttpResponse& resp, bool object) {
    const GcsError e = ParseGcsError(resp.body);
    std::string uri = "gs://" + std::string(bucket);
    if (!key.empty()) uri += "/" + std::string(key);
    const int st = resp.status;
    const FailedReply failed{std::string(op) + " " + uri, " at endpoint " + endpoint(), st,
                             http::IsRetryableHttpStatus(st)};
    const std::string& where = failed.where;
    std::string said = e.message.empty() ? "" : " (" + e.message + ")";
    if (st == 404) {
      bool bucket_missing = !object || e.message.find("bucket") != std::string::npos;
      if (object && !bucket_missing) {
        auto probe = Call("GET", BucketUrl(bucket), {}, {}, nullptr);
        bucket_missing = probe.ok() && probe->status == 404;
      }
      if (bucket_missing && !bucket.empty()) {
        return failed.Make(StatusCode::kNotFound, "bucket '" + std::string(bucket) +
                                                      "' does not exist" + where +
                                                      ": check the bucket name or create it");
      }
      if (!key.empty()) {
        return failed.Make(StatusCode::kNotFound, "no object with key '" + std::string(key) +
                                                      "' in bucket '" + std::string(bucket) + "'" +
                                                      where);
      }
      return failed.Make(StatusCode::kNotFound, "not found" + where + said);
    }
    const bool anonymous = Who() == "anonymous access";
    if (st == 401) {
      std::string hint =
          anonymous ? ": no credentials were found: set credentials_path (or "
                      "GOOGLE_APPLICATION_CREDENTIALS) to a service account key file, or token"
          : Who() == kGivenToken
              ? ": the token is invalid or expired: give a fresh one, or credentials_path so that "
                "Quarry fetches and refreshes tokens itself"
              : ", also after fetching a new token: check that the key is current and the "
                "endpoint right";
      return failed.Make(
          StatusCode::kPermissionDenied,
          "the server" + where + " rejected the credential of " + Who() + said + hint);
    }
    if (st == 403) {
      return failed.Make(
          StatusCode::kPermissionDenied,
          "access denied" + where + " for " + Who() + said +
              (anonymous ? ": no credentials were found: set credentials_path (or "
                           "GOOGLE_APPLICATION_CREDENTIALS) or token"
                         : ": grant it a role on bucket '" + std::string(bucket) +
                               "' that allows this (e.g. roles/storage.objectAdmin)"));
    }
    if (st == 412) {
      return failed.Make(StatusCode::kPreconditionFailed,
                         "the object changed while it was being read (its generation no longer "
                         "matches): rerun the job on the new version");
    }
    return failed.Unrecognised(e.reason, e.message);
  }

  Status CheckBucket(std::string_view bucket) const {
    if (bucket.empty()) return InvalidArgument("gs URIs need a bucket: gs://bucket/key");
    return Status::Ok();
  }

  // Object names of GCS are UTF-8 (the JSON of uploads carries them).
  Status CheckObjectName(std::string_view bucket, std::string_view key) const {
    QUARRY_RETURN_IF_ERROR(CheckObjectKey("gs", bucket, key));
    if (!IsValidUtf8(key)) {
      return InvalidArgument("gs://" + std::string(bucket) + "/" + std::string(key) +
                             ": object names of Google Cloud Storage must be UTF-8");
    }
    return Status::Ok();
  }

 private:
  Status CheckProject(const std::string& op) const {
    if (!s_.project.empty()) return Status::Ok();
    return InvalidArgument(op +
                           ": Google Cloud Storage needs a project for this: set project "
                           "(QUARRY_GS_PROJECT or GOOGLE_CLOUD_PROJECT)");
  }

  GcsSettings s_;
  http::HttpClient http_;
  std::shared_ptr<auth::TokenCache> tokens_;
};

Result<bool> GcsLister::Next(ListPage* page) {
  page->objects.clear();
  page->common_prefixes.clear();
  if (done_) return false;
  Query query = {{"maxResults", std::to_string(options_.page_size)},
                 {"fields",
                  "items(name,size,generation,updated,contentType,contentEncoding),prefixes,"
                  "nextPageToken"}};
  if (!prefix_.empty()) query.emplace_back("prefix", prefix_);
  if (!options_.delimiter.empty()) query.emplace_back("delimiter", options_.delimiter);
  if (!page_token_.empty()) {
    query.emplace_back("pageToken", page_token_);
  } else if (!options_.start_after.empty()) {
    query.emplace_back("startOffset", options_.start_after);  // inclusive: the key is skipped
  }
  QUARRY_ASSIGN_OR_RETURN(
      auto resp,
      store_->Call("GET", WithQuery(store_->BucketUrl(bucket_) + "/o", query), {}, {}, nullptr));
  if (resp.status != 200) return store_->ErrorFor("list", bucket_, prefix_, resp, false);
  auto j = Json::parse(resp.body, nullptr, false);
  if (!j.is_object()) return store_->Malformed("list", bucket_, prefix_);
  if (auto items = j.find("items"); items != j.end() && items->is_array()) {
    for (const auto& item : *items) {
      ObjectInfo info = InfoFromJson(item);
      if (!options_.start_after.empty() && info.key <= options_.start_after) continue;
      page->objects.push_back(std::move(info));
    }
  }
  if (auto prefixes = j.find("prefixes"); prefixes != j.end() && prefixes->is_array()) {
    for (const auto& p : *prefixes) {
      if (!p.is_string()) continue;
      std::string text = p.get<std::string>();
      if (!last_prefix_.empty() && text <= last_prefix_) continue;
      if (!options_.start_after.empty() && text <= options_.start_after &&
          !options_.start_after.starts_with(text)) {
        continue;
      }
      last_prefix_ = text;
      page->common_prefixes.push_back(std::move(text));
    }
  }
  page_token_ = StringField(j, "nextPageToken");
  if (page_token_.empty()) done_ = true;
  return true;
}

// Uploads of objects that reach multipart_threshold: a resumable upload, sent in chunks of
// part_size (a multiple of 256 KiB) in order, one chunk in flight while the caller writes the
// next (PartWriter with one part in flight: two chunk buffers once the upload runs). Objects
// below the threshold go in one multipart upload when the writer closes.
class GcsWriter final : public PartWriter {
 public:
  GcsWriter(std::shared_ptr<GcsStore> store, std::string bucket, std::string key,
            PutOptions options)
      : PartWriter(TargetOf("gs", std::move(bucket), std::move(key), std::move(options)),
                   ShapeOf(store->settings().part_size, store->settings().multipart_threshold, 1)),
        store_(std::move(store)) {}

  ~GcsWriter() override { Discard(); }

 private:
  std::string MediaType() const {
    return put_options().content_type.empty() ? "application/octet-stream"
                                              : put_options().content_type;
  }

  Status StartUpload() override {
    const std::string body = GcsStore::Metadata({}, put_options()).dump();
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            store_->Call("POST",
                                         WithQuery(store_->UploadUrl(bucket()),
                                                   {{"uploadType", "resumable"}, {"name", key()}}),
                                         {{"content-type", "application/json; charset=UTF-8"},
                                          {"x-upload-content-type", MediaType()}},
                                         body, nullptr));
    if (resp.status != 200 && resp.status != 201) {
      return store_->ErrorFor("start upload", bucket(), key(), resp, false);
    }
    session_ = std::string(resp.Header("location"));
    if (session_.empty()) {
      return Status(StatusCode::kIoError, "start upload " + uri() +
                                              ": no upload session (Location) in the reply of " +
                                              store_->endpoint());
    }
    return Status::Ok();
  }

  Status UploadPart(size_t /*index*/, uint64_t offset, std::string_view bytes) override {
    return PutChunk(bytes, offset, std::nullopt);
  }

  // The last chunk, after all others, carries the object's size (and may be empty).
  Status CompleteUpload() override {
    QUARRY_RETURN_IF_ERROR(WaitForParts());
    QUARRY_RETURN_IF_ERROR(PutChunk(rest(), sent(), written()));
    session_.clear();  // complete: nothing to cancel
    return Status::Ok();
  }

  void AbortUpload() override {
    if (session_.empty()) return;
    // Cancels the upload (Google answers 499); nothing was made visible.
    (void)store_->Call("DELETE", session_, {}, {}, nullptr);
    session_.clear();
  }

  Status PutWhole(std::string_view bytes) override {
    return store_->UploadInOne(bucket(), key(), bytes, put_options());
  }

  // PUTs bytes [offset, offset + size) of the object to the session; `total` is the object's
  // size for the last chunk (which completes the object; it may be empty). A server that kept
  // fewer bytes than sent (its 308 reply's Range says how many) is sent the rest again.
  Status PutChunk(std::string_view bytes, uint64_t offset, std::optional<uint64_t> total) {
    for (int round = 0; round < 100; ++round) {
      std::string range;
      if (bytes.empty()) {
        range = "bytes */" + std::to_string(total.value_or(offset));
      } else {
        range = "bytes " + std::to_string(offset) + "-" +
                std::to_string(offset + bytes.size() - 1) + "/" +
                (total ? std::to_string(*total) : std::string("*"));
      }
      QUARRY_ASSIGN_OR_RETURN(
          auto resp,
          store_->Call("PUT", session_, {{"content-range", range}, {"content-type", MediaType()}},
                       bytes, nullptr));
      if (total && (resp.status == 200 || resp.status == 201)) return Status::Ok();
      if (resp.status != 308) return store_->ErrorFor("upload", bucket(), key(), resp, false);
      // "bytes=0-N": N + 1 bytes of the object are kept.
      uint64_t kept = 0;
      if (std::string_view r = resp.Header("range"); !r.empty()) {
        if (auto dash = r.rfind('-'); dash != std::string_view::npos) {
          kept = NumberText(r.substr(dash + 1)) + 1;
        }
      }
      const uint64_t end = offset + bytes.size();
      if (kept >= end && !total) return Status::Ok();
      if (kept < offset || kept > end) {
        return Status(StatusCode::kIoError,
                      "upload " + uri() + ": the server kept " + std::to_string(kept) +
                          " bytes of the object after receiving bytes " + std::to_string(offset) +
                          "-" + std::to_string(end) + ": upload again");
      }
      bytes.remove_prefix(static_cast<size_t>(kept - offset));
      offset = kept;
    }
    return Status(StatusCode::kIoError,
                  "upload " + uri() + ": the server keeps too few bytes of each chunk");
  }

  std::shared_ptr<GcsStore> store_;
  std::string session_;  // the resumable upload's URL, once started
};

Result<std::unique_ptr<ObjectWriter>> GcsStore::OpenWriter(std::string_view bucket,
                                                           std::string_view key,
                                                           const PutOptions& options) {
  QUARRY_RETURN_IF_ERROR(CheckBucket(bucket));
  QUARRY_RETURN_IF_ERROR(CheckObjectName(bucket, key));
  return std::unique_ptr<ObjectWriter>(
      new GcsWriter(shared_from_this(), std::string(bucket), std::string(key), options));
}

Result<std::string> ParseEndpoint(std::string endpoint) {
  if (endpoint.empty()) return std::string(kGoogleEndpoint);
  if (endpoint.find("://") == std::string::npos) {
    // STORAGE_EMULATOR_HOST is often "host:port": plain http for local hosts.
    std::string host = endpoint.substr(0, endpoint.find('/'));
    endpoint = (IsIpOrLocalHost(host) ? "http://" : "https://") + endpoint;
  }
  const auto sep = endpoint.find("://");
  const std::string scheme = endpoint.substr(0, sep);
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument("endpoint '" + endpoint + "' must start with http:// or https://");
  }
  while (endpoint.size() > sep + 3 && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.size() == sep + 3) {
    return InvalidArgument("endpoint '" + endpoint + "' must be scheme://host[:port]");
  }
  return endpoint;
}

}  // namespace

Result<std::shared_ptr<ObjectStore>> MakeGcsStore(const StorageOptions& options) {
  GcsSettings s;
  QUARRY_ASSIGN_OR_RETURN(s.endpoint, ParseEndpoint(OptionText(options, "endpoint")));
  QUARRY_ASSIGN_OR_RETURN(const bool anonymous, OptionFlag(options, "anonymous", false));
  const std::string token = OptionText(options, "token");
  const std::string path = OptionText(options, "credentials_path");
  s.project = OptionText(options, "project");
  s.credentials_path = path;
  if (s.project.empty() && !path.empty() && !anonymous) {
    // The key file names its project; a worker without the file needs none for reading.
    if (auto file = auth::ReadGoogleCredentialsFile(path); file.ok()) s.project = file->project_id;
  }
  if (s.project.empty() && s.endpoint != kGoogleEndpoint) s.project = kEmulatorProject;

  constexpr uint64_t kMaxChunk = uint64_t{5} << 30;
  QUARRY_ASSIGN_OR_RETURN(
      s.part_size, OptionCount(options, "part_size", 16 * kMiB, kChunkQuantum, kMaxChunk,
                               "bytes per chunk of resumable uploads (a multiple of 262144)"));
  if (s.part_size % kChunkQuantum != 0) {
    return InvalidArgument("storage option 'part_size' = '" + OptionText(options, "part_size") +
                           "' is not allowed: chunks of resumable uploads to Google Cloud "
                           "Storage are multiples of 262144 bytes (256 KiB), e.g. " +
                           std::to_string((s.part_size / kChunkQuantum + 1) * kChunkQuantum));
  }
  QUARRY_ASSIGN_OR_RETURN(s.multipart_threshold,
                          OptionCount(options, "multipart_threshold", 16 * kMiB, 1, kMaxChunk,
                                      "bytes from which uploads are resumable, in chunks"));
  QUARRY_ASSIGN_OR_RETURN(auto http_options, HttpClientOptionsFrom(options));
  QUARRY_ASSIGN_OR_RETURN(auto margin, OptionCount(options, "token_refresh_margin", 300, 0, 86400,
                                                   "seconds before expiry"));

  auto store = std::make_shared<GcsStore>(std::move(s), http_options);
  // Which credential: anonymous wins, then a token given as it is, then the credentials file.
  std::unique_ptr<auth::CredentialProvider> provider;
  const bool from_file = !anonymous && token.empty() && !path.empty();
  if (from_file) {
    provider =
        auth::MakeGoogleOAuthProvider(path, std::string(auth::kStorageScope), &store->client());
  } else {
    auth::Credential fixed;
    if (!anonymous && !token.empty()) {
      fixed.kind = auth::Credential::Kind::kBearer;
      fixed.bearer = token;
    }
    provider = std::make_unique<FixedCredential>(std::move(fixed));
  }
  auto tokens =
      std::make_shared<auth::TokenCache>(std::move(provider), std::chrono::seconds(margin));
  if (from_file && !OptionText(options, "oauth_token").empty()) {
    // A token exchanged on the job's driver.
    auth::Credential shipped;
    shipped.kind = auth::Credential::Kind::kBearer;
    shipped.bearer = OptionText(options, "oauth_token");
    shipped.exchanged = true;
    if (const std::string exp = OptionText(options, "oauth_token_expiration"); !exp.empty()) {
      shipped.expires = auth::Clock::from_time_t(static_cast<std::time_t>(NumberText(exp)));
    }
    tokens->Seed(std::move(shipped));
  }
  store->SetCredentials(std::move(tokens));
  return std::shared_ptr<ObjectStore>(std::move(store));
}

Result<StorageOptions> FetchGcsShippableCredentials(const StorageOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(auto store, MakeGcsStore(options));
  QUARRY_ASSIGN_OR_RETURN(auto cred, static_cast<GcsStore&>(*store).tokens().Get());
  StorageOptions out = options;
  if (!cred.exchanged) return out;  // anonymous or a given token: nothing was fetched
  out["oauth_token"] = cred.bearer;
  if (cred.expires) {
    out["oauth_token_expiration"] = std::to_string(auth::Clock::to_time_t(*cred.expires));
  }
  return out;
}

Status GcsRewriteObject(ObjectStore& store, std::string_view src_bucket, std::string_view src_key,
                        std::string_view dst_bucket, std::string_view dst_key) {
  auto* gcs = dynamic_cast<GcsStore*>(&store);
  if (gcs == nullptr) {
    return InvalidArgument("a server-side copy needs a gs store, not " +
                           std::string(store.scheme()));
  }
  return gcs->Rewrite(src_bucket, src_key, dst_bucket, dst_key);
}

}  // namespace quarry
