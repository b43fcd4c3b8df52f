// Azure Blob Storage backend: Blob service REST calls over the shared HttpClient, authorised by
// Shared Key, a SAS token or an Azure AD bearer token.
#include "storage/azure_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <pugixml.hpp>

#include "auth/azure_ad_token.h"
#include "auth/azure_shared_key.h"
#include "auth/credentials.h"
#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/key_rules.h"
#include "quarry/parallel_for.h"
#include "storage/bounded_body.h"
#include "storage/failed_reply.h"
#include "storage/part_writer.h"
#include "storage/reply_headers.h"
#include "storage/s3_xml.h"
#include "storage/store_options.h"

namespace quarry {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using Query = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kMiB = uint64_t{1024} * 1024;
// Requests name this version of the Blob service API (bearer tokens need 2017-11-09 or later).
constexpr const char* kApiVersion = "2021-08-06";
constexpr std::string_view kScheme = "az";
// The emulator's published development account (UseDevelopmentStorage=true).
constexpr const char* kDevAccount = "devstoreaccount1";
constexpr const char* kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr const char* kDevEndpoint = "http://127.0.0.1:10000/devstoreaccount1";

// Element text as sent, also of only white space; bodies are UTF-8.
constexpr unsigned kXmlOptions = pugi::parse_default | pugi::parse_ws_pcdata_single;

// "%XX" decoding of names the service marks Encoded="true" ('+' stays '+').
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string NameOf(const pugi::xml_node& node) {
  auto name = node.child("Name");
  std::string text = name.child_value();
  return name.attribute("Encoded").as_bool() ? PercentDecode(text) : text;
}

// The first line of an error message (the service appends RequestId and Time lines).
std::string FirstLine(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// The headers that store PutOptions with a blob (on Put Blob and Put Block List alike).
http::HeaderList MetadataHeaders(const PutOptions& options) {
  http::HeaderList headers;
  if (!options.content_type.empty()) {
    headers.emplace_back("x-ms-blob-content-type", options.content_type);
  }
  if (!options.content_encoding.empty()) {
    headers.emplace_back("x-ms-blob-content-encoding", options.content_encoding);
  }
  return headers;
}

enum class AuthKind { kAnonymous, kSharedKey, kSas, kBearer };

struct AzureSettings {
  std::string endpoint_origin;  // "http://127.0.0.1:10000"
  std::string path_prefix;      // "/devstoreaccount1" on path-style endpoints, else ""
  std::string account;
  AuthKind auth = AuthKind::kAnonymous;
  std::string decoded_key;  // kSharedKey
  std::string sas;          // kSas: the token's query, without '?'
  uint64_t multipart_threshold = 16 * kMiB;
  uint64_t part_size = 16 * kMiB;
};

class AzureStore;

class AzureLister final : public Lister {
 public:
  AzureLister(AzureStore* store, std::string container, std::string prefix, ListOptions options)
      : store_(store),
        container_(std::move(container)),
        prefix_(std::move(prefix)),
        options_(std::move(options)) {}
  Result<bool> Next(ListPage* page) override;

 private:
  AzureStore* store_;
  std::string container_, prefix_;
  ListOptions options_;
  std::string marker_;
  bool done_ = false;
};

class AzureStore final : public ObjectStore, public std::enable_shared_from_this<AzureStore> {
 public:
  AzureStore(AzureSettings settings, http::HttpClientOptions http_options)
      : s_(std::move(settings)), http_(std::move(http_options)) {}

  // Azure AD: the token cache, seeded with a token shipped from a job's driver when there is one.
  void InitBearer(const StorageOptions& options, std::chrono::seconds refresh_margin) {
    const std::string tenant = OptionText(options, "tenant_id");
    const std::string client = OptionText(options, "client_id");
    const std::string secret = OptionText(options, "client_secret");
    std::string authority = OptionText(options, "authority_host");
    if (authority.empty()) authority = "https://login.microsoftonline.com";
    tokens_ = std::make_shared<auth::TokenCache>(
        auth::MakeAzureAdProvider(tenant, client, secret, authority, &http_), refresh_margin);
    if (const std::string token = OptionText(options, "token"); !token.empty()) {
      auth::Credential seeded;
      seeded.kind = auth::Credential::Kind::kBearer;
      seeded.bearer = token;
      seeded.exchanged = true;
      if (const std::string exp = OptionText(options, "token_expiration"); !exp.empty()) {
        seeded.expires = auth::Clock::from_time_t(
            static_cast<std::time_t>(std::strtoll(exp.c_str(), nullptr, 10)));
      }
      tokens_->Seed(std::move(seeded));
    }
  }

  auth::TokenCache* tokens() { return tokens_.get(); }

  std::string_view scheme() const override { return kScheme; }
  std::string endpoint() const override { return s_.endpoint_origin + s_.path_prefix; }

  StoreStats stats() const override { return ReadCounts(http_.stats()); }

  Result<std::unique_ptr<Lister>> List(std::string_view container, std::string_view prefix,
                                       const ListOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    return std::unique_ptr<Lister>(
        new AzureLister(this, std::string(container), std::string(prefix), options));
  }

  Result<ObjectInfo> Head(std::string_view container, std::string_view key) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(kScheme, container, key));
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("HEAD", container, key, {}, {}, {}, nullptr));
    if (resp.status != 200) return ErrorFor("stat", container, key, resp);
    return InfoFromHeaders(key, resp);
  }

  Result<uint64_t> ReadRange(std::string_view container, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(kScheme, container, key));
    if (length == 0) return uint64_t{0};
    http::HeaderList headers;
    if (!ReadsWholeObject(offset, length, options.object_size)) {
      headers.emplace_back("x-ms-range", ByteRangeHeader(offset, length));
    }
    if (!options.if_match.empty()) headers.emplace_back("If-Match", "\"" + options.if_match + "\"");
    BoundedBody body(
        sink, length,
        [&] {
          return Status(StatusCode::kPreconditionFailed,
                        "read " + UriText(container, key) +
                            ": the blob is larger than when it was listed (it changed while being "
                            "read): rerun on the new version");
        },
        [&](const HttpResponse& head) -> Result<ObjectInfo> { return InfoFromHeaders(key, head); });
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("GET", container, key, {}, headers, {}, body.body()));
    if (resp.status == 416) return uint64_t{0};  // offset at or past the end
    if (resp.status != 200 && resp.status != 206) return ErrorFor("read", container, key, resp);
    return body.written();
  }

  using ObjectStore::Put;
  Status Put(std::string_view container, std::string_view key, std::string_view data,
             const PutOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(kScheme, container, key));
    http::HeaderList headers = MetadataHeaders(options);
    headers.emplace_back("x-ms-blob-type", "BlockBlob");
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("PUT", container, key, {}, headers, data, nullptr));
    if (resp.status != 201 && resp.status != 200) return ErrorFor("write", container, key, resp);
    return Status::Ok();
  }

  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view container, std::string_view key,
                                                   const PutOptions& options) override;

  // The Blob service deletes one blob per request: up to 16 go at once.
  Status DeleteObjects(std::string_view container, const std::vector<std::string>& keys) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    const int threads = static_cast<int>(std::min<size_t>(16, std::max<size_t>(1, keys.size())));
    return ParallelFor(keys.size(), threads, [&](size_t i) -> Status {
      QUARRY_ASSIGN_OR_RETURN(auto resp, Call("DELETE", container, keys[i], {}, {}, {}, nullptr));
      if (resp.status == 202 || resp.status == 200) return Status::Ok();
      if (resp.status == 404 && ErrorCode(resp) != "ContainerNotFound") return Status::Ok();
      return ErrorFor("delete", container, keys[i], resp);
    });
  }

  Result<std::vector<BucketInfo>> ListBuckets() override {
    std::vector<BucketInfo> containers;
    std::string marker;
    do {
      Query query = {{"comp", "list"}};
      if (!marker.empty()) query.emplace_back("marker", marker);
      QUARRY_ASSIGN_OR_RETURN(auto resp, Call("GET", "", "", query, {}, {}, nullptr, true));
      if (resp.status != 200) return ErrorFor("list containers", "", "", resp);
      pugi::xml_document doc;
      if (!doc.load_buffer(resp.body.data(), resp.body.size(), kXmlOptions, pugi::encoding_utf8)) {
        return Status(StatusCode::kIoError, "list containers: malformed reply from " + endpoint());
      }
      auto root = doc.child("EnumerationResults");
      for (auto c = root.child("Containers").child("Container"); c;
           c = c.next_sibling("Container")) {
        containers.push_back({c.child_value("Name"),
                              HttpDateToIso(c.child("Properties").child_value("Last-Modified"))});
      }
      marker = root.child_value("NextMarker");
    } while (!marker.empty());
    std::sort(containers.begin(), containers.end(),
              [](const BucketInfo& a, const BucketInfo& b) { return a.name < b.name; });
    return containers;
  }

  Status CreateBucket(std::string_view container) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    QUARRY_ASSIGN_OR_RETURN(
        auto resp, Call("PUT", container, "", {{"restype", "container"}}, {}, {}, nullptr, true));
    if (resp.status == 201 || resp.status == 200) return Status::Ok();
    if (ErrorCode(resp) == "ContainerAlreadyExists") return Status::Ok();
    return ErrorFor("create container", container, "", resp);
  }

  // The service deletes a container with everything in it; the contract deletes only empty
  // ones, so a container that still holds a blob is refused before anything is deleted.
  Status DeleteBucket(std::string_view container) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    QUARRY_ASSIGN_OR_RETURN(
        auto probe, Call("GET", container, "",
                         {{"restype", "container"}, {"comp", "list"}, {"maxresults", "1"}}, {}, {},
                         nullptr, true));
    if (probe.status != 200) return ErrorFor("delete container", container, "", probe);
    auto parsed = ParseBlobList(probe.body);
    if (parsed.ok() && !parsed->page.objects.empty()) {
      return Status(StatusCode::kIoError, "delete container " + UriText(container, "") +
                                              ": the container is not "
                                              "empty (it holds '" +
                                              parsed->page.objects[0].key +
                                              "'): delete its blobs first (quarry rm -r az://" +
                                              std::string(container) + "/)");
    }
    QUARRY_ASSIGN_OR_RETURN(auto resp, Call("DELETE", container, "", {{"restype", "container"}}, {},
                                            {}, nullptr, true));
    if (resp.status == 202 || resp.status == 200) return Status::Ok();
    return ErrorFor("delete container", container, "", resp);
  }

  // A service SAS URL, signed with the account key, that lets anyone read the blob.
  Result<std::string> PresignGet(std::string_view container, std::string_view key,
                                 int64_t expires_seconds) override {
    QUARRY_RETURN_IF_ERROR(CheckContainer(container));
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(kScheme, container, key));
    if (s_.auth != AuthKind::kSharedKey) {
      return InvalidArgument("presigned az URLs are SAS URLs signed with the account key; " +
                             Who() +
                             " has none: set account_key (AZURE_STORAGE_KEY) or a connection "
                             "string with AccountKey");
    }
    auth::BlobSasRequest sas;
    sas.account = s_.account;
    sas.container = std::string(container);
    sas.blob = std::string(key);
    sas.permissions = "r";
    sas.expiry = std::time(nullptr) + std::max<int64_t>(1, expires_seconds);
    sas.version = kApiVersion;
    std::string token = auth::BlobServiceSas(sas, s_.decoded_key);
    if (token.empty()) return Internal("signing the SAS of " + UriText(container, key) + " failed");
    return endpoint() + "/" + std::string(container) + "/" + auth::UriEncodePath(key) + "?" + token;
  }

  // Sends one authorised request (with the client's retries). `container_op` marks requests on
  // the container itself, whose path is "/container" rather than "/container/blob"; an empty
  // container means the service ("/").
  Result<HttpResponse> Call(const std::string& method, std::string_view container,
                            std::string_view blob, const Query& query,
                            const http::HeaderList& headers, std::string_view body,
                            http::BodySink* sink, bool container_op = false) {
    std::string path = s_.path_prefix + "/";
    if (!container.empty()) {
      path += std::string(container);
      if (!container_op) path += "/" + auth::UriEncodePath(blob);
    }
    std::string url = s_.endpoint_origin + path;
    std::string qs = auth::CanonicalQueryString(query);
    if (s_.auth == AuthKind::kSas && !s_.sas.empty()) qs += (qs.empty() ? "" : "&") + s_.sas;
    if (!qs.empty()) url += "?" + qs;

    for (int attempt = 0;; ++attempt) {
      std::string bearer;
      if (s_.auth == AuthKind::kBearer) {
        QUARRY_ASSIGN_OR_RETURN(auto cred, tokens_->Get());
        bearer = std::move(cred.bearer);
      }
      auto resp = http_.Send(
          [&](HttpRequest* req) {
            req->method = method;
            req->url = url;
            req->body = body;
            req->headers = headers;
            req->headers.emplace_back("x-ms-date", auth::AzureDate(std::time(nullptr)));
            req->headers.emplace_back("x-ms-version", kApiVersion);
            if (s_.auth == AuthKind::kSharedKey) {
              auth::AzureSignableRequest sr;
              sr.method = method;
              sr.encoded_path = path;
              sr.query = query;
              sr.headers = req->headers;
              sr.content_length = body.size();
              std::string authorization =
                  auth::SharedKeyAuthorization(sr, s_.account, s_.decoded_key);
              if (authorization.empty()) return Internal("Shared Key signing failed");
              req->headers.emplace_back("Authorization", std::move(authorization));
            } else if (s_.auth == AuthKind::kBearer) {
              req->headers.emplace_back("Authorization", "Bearer " + bearer);
            }
            return Status::Ok();
          },
          sink);
      // A token the service no longer takes: fetch a new one once, then try again.
      if (attempt == 0 && s_.auth == AuthKind::kBearer && resp.ok() && resp->status == 401 &&
          tokens_->Refresh().ok()) {
        if (sink != nullptr && sink->reset) sink->reset();
        continue;
      }
      return resp;
    }
  }

  // The service's error code: the x-ms-error-code header (also on bodiless HEAD replies), else
  // the <Code> of the body.
  static std::string ErrorCode(const HttpResponse& resp) {
    std::string code(resp.Header("x-ms-error-code"));
    if (code.empty()) code = ParseS3ErrorReply(resp.body).code;
    return code;
  }

  // The credential in use, for messages (never a secret).
  std::string Who() const {
    switch (s_.auth) {
      case AuthKind::kSharedKey: return "the Shared Key of account '" + s_.account + "'";
      case AuthKind::kSas: return "the SAS token";
      case AuthKind::kBearer: return "the token of " + tokens_->provider().Describe();
      case AuthKind::kAnonymous: break;
    }
    return "anonymous access";
  }

  std::string UriText(std::string_view container, std::string_view key) const {
    std::string uri = "az://" + std::string(container);
    if (!key.empty()) uri += "/" + std::string(key);
    return uri;
  }

  // Maps a non-2xx reply to a Status that names what failed and how to fix it.
  Status ErrorFor(std::string_view op, std::string_view container, std::string_view key,
                  const HttpResponse& resp) const {
    const std::string code = ErrorCode(resp);
    const std::string message = FirstLine(ParseS3ErrorReply(resp.body).message);
    const int st = resp.status;
    const FailedReply failed{std::string(op) + " " + UriText(container, key),
                             " at endpoint " + endpoint(), st, http::IsRetryableHttpStatus(st)};
    const std::string& where = failed.where;
    const std::string coded = code.empty() ? "" : " (" + code + ")";
    if (code == "ContainerNotFound") {
      return failed.Make(StatusCode::kNotFound,
                         "container '" + std::string(container) + "' does not exist" + where +
                             ": check the container name or create it (quarry mb az://" +
                             std::string(container) + ")");
    }
    if (code == "BlobNotFound" || (st == 404 && code.empty() && !key.empty())) {
      return failed.Make(StatusCode::kNotFound, "no blob named '" + std::string(key) +
                                                    "' in container '" + std::string(container) +
                                                    "'" + where);
    }
    // Azure says AuthenticationFailed for a bad signature, emulators AuthorizationFailure with
    // "failed to authenticate" (HEAD replies carry no message: taken as the same).
    const bool unauthenticated =
        st == 401 || code == "AuthenticationFailed" || code == "InvalidAuthenticationInfo" ||
        code == "NoAuthenticationInformation" ||
        (code == "AuthorizationFailure" &&
         (message.empty() || message.find("authenticate") != std::string::npos));
    if (unauthenticated) {
      std::string hint;
      switch (s_.auth) {
        case AuthKind::kSharedKey:
          hint =
              ": check the account key (account_key / AZURE_STORAGE_KEY, or AccountKey in the "
              "connection string) and account_name";
          break;
        case AuthKind::kSas:
          hint =
              ": check sas_token (or SharedAccessSignature in the connection string): it may "
              "have expired, be signed with another key, or not cover this resource";
          break;
        case AuthKind::kBearer:
          hint = ", also after fetching a new one: check that the client may use this account";
          break;
        case AuthKind::kAnonymous:
          hint =
              ": no credentials were found; set AZURE_STORAGE_CONNECTION_STRING, or "
              "account_name with account_key or sas_token";
          break;
      }
      return failed.Make(StatusCode::kPermissionDenied,
                         "authentication failed" + where + " for " + Who() + coded + hint);
    }
    if (st == 403) {
      std::string hint = s_.auth == AuthKind::kSas
                             ? ": the SAS token does not grant this operation (check its sp= "
                               "permissions, sr= resource and expiry)"
                             : ": check that it may use this container";
      return failed.Make(StatusCode::kPermissionDenied,
                         "access denied" + where + " for " + Who() + coded + hint);
    }
    if (st == 412) {
      return failed.Make(
          StatusCode::kPreconditionFailed,
          "the blob changed while it was being read (ETag no longer matches): rerun the "
          "job on the new version");
    }
    if (st == 404) return failed.Make(StatusCode::kNotFound, "not found" + where + coded);
    return failed.Unrecognised(code, message);
  }

  const AzureSettings& settings() const { return s_; }

 private:
  static Status CheckContainer(std::string_view container) {
    if (container.empty()) return InvalidArgument("az URIs need a container: az://container/blob");
    return Status::Ok();
  }

  AzureSettings s_;
  http::HttpClient http_;
  std::shared_ptr<auth::TokenCache> tokens_;  // kBearer only
};

Result<bool> AzureLister::Next(ListPage* page) {
  page->objects.clear();
  page->common_prefixes.clear();
  const std::string& after = options_.start_after;
  // The service has no start-after: keys up to it are dropped here, page after page.
  while (!done_) {
    Query query = {{"restype", "container"},
                   {"comp", "list"},
                   {"maxresults", std::to_string(std::max(1, options_.page_size))}};
    if (!prefix_.empty()) query.emplace_back("prefix", prefix_);
    if (!options_.delimiter.empty()) query.emplace_back("delimiter", options_.delimiter);
    if (!marker_.empty()) query.emplace_back("marker", marker_);
    QUARRY_ASSIGN_OR_RETURN(auto resp,
                            store_->Call("GET", container_, "", query, {}, {}, nullptr, true));
    if (resp.status != 200) return store_->ErrorFor("list", container_, prefix_, resp);
    auto parsed = ParseBlobList(resp.body);
    if (!parsed.ok()) {
      return Status(StatusCode::kIoError, "list " + store_->UriText(container_, prefix_) +
                                              ": malformed reply from " + store_->endpoint() +
                                              ": " + parsed.status().message());
    }
    marker_ = std::move(parsed->next_marker);
    if (marker_.empty()) done_ = true;
    if (after.empty()) {
      *page = std::move(parsed->page);
      return true;
    }
    for (auto& o : parsed->page.objects) {
      if (o.key > after) page->objects.push_back(std::move(o));
    }
    for (auto& p : parsed->page.common_prefixes) {
      // A "directory" is kept when keys after `after` may be in it.
      if (p > after || after.starts_with(p)) page->common_prefixes.push_back(std::move(p));
    }
    if (!page->objects.empty() || !page->common_prefixes.empty()) return true;
  }
  return false;
}

// Block upload. Blocks go up with Put Block, four in flight at once while the caller writes
// (PartWriter). Close() commits the list of blocks (Put Block List); nothing is visible under
// the key before that, and blocks never committed are dropped by the service, so abandoning an
// upload sends nothing. An object below multipart_threshold is one Put Blob.
class AzureWriter final : public PartWriter {
 public:
  AzureWriter(std::shared_ptr<AzureStore> store, std::string container, std::string key,
              PutOptions options)
      : PartWriter(TargetOf("az", std::move(container), std::move(key), std::move(options)),
                   ShapeOf(store->settings().part_size, store->settings().multipart_threshold, 4)),
        store_(std::move(store)) {
    // Block ids carry a random nonce: two writers of one key never commit each other's blocks.
    unsigned char nonce[8];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
      const auto t =
          static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      std::memcpy(nonce, &t, sizeof nonce);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char c : nonce) {
      nonce_.push_back(kHex[c >> 4]);
      nonce_.push_back(kHex[c & 15]);
    }
  }

  ~AzureWriter() override { Discard(); }

 private:
  Status StartUpload() override { return Status::Ok(); }  // blocks need no session

  Status UploadPart(size_t index, uint64_t /*offset*/, std::string_view bytes) override {
    QUARRY_ASSIGN_OR_RETURN(
        auto resp,
        store_->Call("PUT", bucket(), key(), {{"comp", "block"}, {"blockid", BlockId(index)}}, {},
                     bytes, nullptr));
    if (resp.status != 201 && resp.status != 200) {
      return store_->ErrorFor("upload block of", bucket(), key(), resp);
    }
    return Status::Ok();
  }

  Status CompleteUpload() override {
    QUARRY_RETURN_IF_ERROR(SendRest());
    QUARRY_RETURN_IF_ERROR(WaitForParts());
    std::string body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    for (size_t i = 0; i < parts(); ++i) body += "<Latest>" + BlockId(i) + "</Latest>";
    body += "</BlockList>";
    http::HeaderList headers = MetadataHeaders(put_options());
    headers.emplace_back("Content-Type", "application/xml");
    QUARRY_ASSIGN_OR_RETURN(auto resp, store_->Call("PUT", bucket(), key(), {{"comp", "blocklist"}},
                                                    headers, body, nullptr));
    if (resp.status != 201 && resp.status != 200) {
      return store_->ErrorFor("commit blocks of", bucket(), key(), resp);
    }
    return Status::Ok();
  }

  void AbortUpload() override {}

  Status PutWhole(std::string_view bytes) override {
    return store_->Put(bucket(), key(), bytes, put_options());
  }

  // The i-th block's id: base64 of the nonce and the index, all of one length as the service
  // requires.
  std::string BlockId(size_t index) const {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%08zu", index);
    return auth::Base64Encode(nonce_ + digits);
  }

  std::shared_ptr<AzureStore> store_;
  std::string nonce_;
};

Result<std::unique_ptr<ObjectWriter>> AzureStore::OpenWriter(std::string_view container,
                                                             std::string_view key,
                                                             const PutOptions& options) {
  QUARRY_RETURN_IF_ERROR(CheckContainer(container));
  QUARRY_RETURN_IF_ERROR(CheckObjectKey(kScheme, container, key));
  return std::unique_ptr<ObjectWriter>(
      new AzureWriter(shared_from_this(), std::string(container), std::string(key), options));
}

bool HasAzureAd(const StorageOptions& options) {
  return !OptionText(options, "client_secret").empty() || !OptionText(options, "token").empty();
}

}  // namespace

Result<std::map<std::string, std::string>> ParseAzureConnectionString(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t index = 0;
  while (!text.empty()) {
    ++index;
    const size_t semi = text.find(';');
    std::string_view part = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front()))) {
      part.remove_prefix(1);
    }
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) {
      part.remove_suffix(1);
    }
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgument("connection string part " + std::to_string(index) +
                             " is not Key=Value (the parts are separated by ';', e.g. "
                             "AccountName=...;AccountKey=...)");
    }
    out[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
  }
  return out;
}

Result<BlobListPage> ParseBlobList(std::string_view body) {
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(body.data(), body.size(), kXmlOptions, pugi::encoding_utf8);
  if (!parsed) return Status(StatusCode::kIoError, parsed.description());
  BlobListPage out;
  auto root = doc.child("EnumerationResults");
  for (auto node : root.child("Blobs").children()) {
    const std::string_view tag = node.name();
    if (tag == "Blob") {
      auto props = node.child("Properties");
      ObjectInfo info;
      info.key = NameOf(node);
      info.size = props.child("Content-Length").text().as_ullong();
      info.etag = StripQuotes(props.child_value("Etag"));
      info.last_modified = HttpDateToIso(props.child_value("Last-Modified"));
      info.content_type = props.child_value("Content-Type");
      info.content_encoding = props.child_value("Content-Encoding");
      out.page.objects.push_back(std::move(info));
    } else if (tag == "BlobPrefix") {
      out.page.common_prefixes.push_back(NameOf(node));
    }
  }
  out.next_marker = root.child_value("NextMarker");
  return out;
}

Result<std::shared_ptr<ObjectStore>> MakeAzureStore(const StorageOptions& options) {
  std::map<std::string, std::string> cs;
  if (const std::string text = OptionText(options, "connection_string"); !text.empty()) {
    auto parsed = ParseAzureConnectionString(text);
    if (!parsed.ok()) return parsed.status().WithContext("storage option 'connection_string'");
    cs = std::move(*parsed);
  }
  auto field = [&](const char* key) {
    auto it = cs.find(key);
    return it == cs.end() ? std::string() : it->second;
  };
  const bool dev = field("UseDevelopmentStorage") == "true";
  auto pick = [&](const char* key, const char* cs_field, const char* dev_value) {
    std::string v = OptionText(options, key);
    if (v.empty()) v = field(cs_field);
    if (v.empty() && dev) v = dev_value;
    return v;
  };
  AzureSettings s;
  s.account = pick("account_name", "AccountName", kDevAccount);
  const std::string key = pick("account_key", "AccountKey", kDevKey);
  const std::string sas = pick("sas_token", "SharedAccessSignature", "");
  std::string endpoint = pick("endpoint", "BlobEndpoint", kDevEndpoint);
  if (endpoint.empty()) {
    if (s.account.empty()) {
      return InvalidArgument(
          "no Azure storage account is configured for az://: set AZURE_STORAGE_CONNECTION_STRING, "
          "or account_name (AZURE_STORAGE_ACCOUNT) with account_key (AZURE_STORAGE_KEY) or "
          "sas_token, or endpoint");
    }
    std::string protocol = field("DefaultEndpointsProtocol");
    if (protocol.empty()) protocol = "https";
    std::string suffix = field("EndpointSuffix");
    if (suffix.empty()) suffix = "core.windows.net";
    endpoint = protocol + "://" + s.account + ".blob." + suffix;
  }
  const auto sep = endpoint.find("://");
  const std::string protocol = sep == std::string::npos ? "" : endpoint.substr(0, sep);
  if (protocol != "http" && protocol != "https") {
    return InvalidArgument("endpoint '" + endpoint +
                           "' must start with http:// or https:// (e.g. "
                           "https://ACCOUNT.blob.core.windows.net or " +
                           kDevEndpoint + ")");
  }
  while (endpoint.size() > sep + 3 && endpoint.back() == '/') endpoint.pop_back();
  const size_t path_at = endpoint.find('/', sep + 3);
  s.endpoint_origin = endpoint.substr(0, path_at);
  s.path_prefix = path_at == std::string::npos ? "" : endpoint.substr(path_at);
  if (s.endpoint_origin.size() <= sep + 3 ||
      s.path_prefix.find_first_of("?#") != std::string::npos) {
    return InvalidArgument("endpoint '" + endpoint + "' must be scheme://host[:port][/path]");
  }
  if (s.account.empty() && !key.empty()) {
    // The account is the first label of ACCOUNT.blob.… hosts, or the first part of the path of
    // emulators' path-style endpoints.
    const std::string host = s.endpoint_origin.substr(sep + 3);
    if (const auto dot = host.find(".blob."); dot != std::string::npos) {
      s.account = host.substr(0, dot);
    } else if (s.path_prefix.size() > 1) {
      s.account = s.path_prefix.substr(1, s.path_prefix.find('/', 1) - 1);
    }
  }

  if (HasAzureAd(options)) {
    if (OptionText(options, "token").empty() &&
        (OptionText(options, "tenant_id").empty() || OptionText(options, "client_id").empty())) {
      return InvalidArgument(
          "client_secret is set but not both tenant_id and client_id: Azure AD client "
          "credentials need all three (or AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)");
    }
    s.auth = AuthKind::kBearer;
  } else if (!sas.empty()) {
    s.auth = AuthKind::kSas;
    s.sas = auth::NormalizeSasToken(sas);
  } else if (!key.empty()) {
    if (s.account.empty()) {
      return InvalidArgument(
          "account_key is set but no account name: set account_name (AZURE_STORAGE_ACCOUNT)");
    }
    auto decoded = auth::Base64Decode(key);
    if (!decoded.ok()) {
      return InvalidArgument("storage option 'account_key' of account '" + s.account +
                             "' is not base64: give the key as the portal shows it (" +
                             std::string(decoded.status().message()) + ")");
    }
    s.auth = AuthKind::kSharedKey;
    s.decoded_key = std::move(*decoded);
  }

  QUARRY_ASSIGN_OR_RETURN(
      s.part_size, OptionCount(options, "part_size", 16 * kMiB, uint64_t{64} * 1024, 4000 * kMiB,
                               "bytes per uploaded block (64 KiB to 4000 MiB)"));
  QUARRY_ASSIGN_OR_RETURN(s.multipart_threshold,
                          OptionCount(options, "multipart_threshold", 16 * kMiB, 1, 4000 * kMiB,
                                      "bytes above which uploads go in blocks"));
  QUARRY_ASSIGN_OR_RETURN(auto http_options, HttpClientOptionsFrom(options));
  QUARRY_ASSIGN_OR_RETURN(auto margin, OptionCount(options, "token_refresh_margin", 300, 0, 86400,
                                                   "seconds before expiry"));
  const bool bearer = s.auth == AuthKind::kBearer;
  auto store = std::make_shared<AzureStore>(std::move(s), http_options);
  if (bearer) store->InitBearer(options, std::chrono::seconds(margin));
  return std::shared_ptr<ObjectStore>(std::move(store));
}

Result<StorageOptions> FetchAzureShippableCredentials(const StorageOptions& options) {
  if (!HasAzureAd(options) || !OptionText(options, "token").empty()) return options;
  QUARRY_ASSIGN_OR_RETURN(auto store, MakeAzureStore(options));
  auto* tokens = static_cast<AzureStore&>(*store).tokens();
  if (tokens == nullptr) return options;
  QUARRY_ASSIGN_OR_RETURN(auto cred, tokens->Get());
  return auth::WithFetchedCredential(options, cred);
}

}  // namespace quarry
