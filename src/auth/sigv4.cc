// AWS Signature Version 4: canonical request, string to sign, signing key, signature.
//
// Hot path notes: each thread keeps one reusable digest context and one HMAC context (no
// per-call OpenSSL allocation or algorithm fetch), and a few derived signing keys (the key
// changes only with the date, region, service or secret). Headers and query parameters are
// handled as string_views into the caller's request; the strings built are the canonical
// request, the string to sign and the outputs.
#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace quarry::auth {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr int64_t kMaxPresignSeconds = int64_t{7} * 24 * 3600;  // AWS rejects longer X-Amz-Expires
constexpr size_t kDigestLen = 32;
constexpr size_t kAmzDateLen = 16;  // "20150830T123600Z"
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

using Digest = std::array<unsigned char, kDigestLen>;

// ---------------------------------------------------------------------------------------------
// OpenSSL primitives.

// Fetched once and never freed: freeing at static destruction could run after OpenSSL's own
// atexit cleanup.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// Per-thread reusable contexts. Either may be null (allocation failure); callers then fall back
// to OpenSSL's one-shot functions.
class ThreadCrypto {
 public:
  ThreadCrypto() : md_(EVP_MD_CTX_new()) {
    if (EVP_MAC* algorithm = HmacAlgorithm(); algorithm != nullptr) {
      mac_ = EVP_MAC_CTX_new(algorithm);
      if (mac_ != nullptr) {
        char digest_name[] = "SHA256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_CTX_set_params(mac_, params) != 1) {
          EVP_MAC_CTX_free(mac_);
          mac_ = nullptr;
        }
      }
    }
  }
  ~ThreadCrypto() {
    EVP_MAC_CTX_free(mac_);
    EVP_MD_CTX_free(md_);
  }
  ThreadCrypto(const ThreadCrypto&) = delete;
  ThreadCrypto& operator=(const ThreadCrypto&) = delete;

  EVP_MD_CTX* md() const { return md_; }
  EVP_MAC_CTX* mac() const { return mac_; }

 private:
  EVP_MD_CTX* md_ = nullptr;
  EVP_MAC_CTX* mac_ = nullptr;
};

ThreadCrypto& Crypto() {
  thread_local ThreadCrypto crypto;
  return crypto;
}

const unsigned char* Bytes(std::string_view s) {
  static const unsigned char kNothing[1] = {0};
  return s.empty() ? kNothing : reinterpret_cast<const unsigned char*>(s.data());
}

bool Sha256(std::string_view data, Digest* out) {
  unsigned int len = 0;
  EVP_MD_CTX* ctx = Crypto().md();
  if (ctx != nullptr && EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, Bytes(data), data.size()) == 1 &&
      EVP_DigestFinal_ex(ctx, out->data(), &len) == 1) {
    return len == kDigestLen;
  }
  return EVP_Digest(Bytes(data), data.size(), out->data(), &len, Sha256Md(), nullptr) == 1 &&
         len == kDigestLen;
}

bool Hmac(std::string_view key, std::string_view data, Digest* out) {
  // A non-null key pointer matters: EVP_MAC_init with a null key reuses the previous key.
  EVP_MAC_CTX* ctx = Crypto().mac();
  size_t len = 0;
  if (ctx != nullptr && EVP_MAC_init(ctx, Bytes(key), key.size(), nullptr) == 1 &&
      EVP_MAC_update(ctx, Bytes(data), data.size()) == 1 &&
      EVP_MAC_final(ctx, out->data(), &len, out->size()) == 1 && len == kDigestLen) {
    return true;
  }
  unsigned int one_shot_len = 0;
  return HMAC(Sha256Md(), Bytes(key), static_cast<int>(key.size()), Bytes(data), data.size(),
              out->data(), &one_shot_len) != nullptr &&
         one_shot_len == kDigestLen;
}

std::string_view View(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

void AppendHex(const Digest& d, std::string* out) {
  const size_t at = out->size();
  out->resize(at + 2 * d.size());
  char* p = out->data() + at;
  for (unsigned char byte : d) {
    *p++ = kHexDigits[byte >> 4];
    *p++ = kHexDigits[byte & 0x0f];
  }
}

bool DeriveKey(std::string_view secret, std::string_view date, std::string_view region,
               std::string_view service, Digest* out) {
  std::string k_secret;
  k_secret.reserve(4 + secret.size());
  k_secret.append("AWS4").append(secret);
  Digest k_date;
  Digest k_region;
  Digest k_service;
  const bool ok = Hmac(k_secret, date, &k_date) && Hmac(View(k_date), region, &k_region) &&
                  Hmac(View(k_region), service, &k_service) &&
                  Hmac(View(k_service), "aws4_request", out);
  OPENSSL_cleanse(k_secret.data(), k_secret.size());
  OPENSSL_cleanse(k_date.data(), k_date.size());
  OPENSSL_cleanse(k_region.data(), k_region.size());
  OPENSSL_cleanse(k_service.data(), k_service.size());
  return ok;
}

// A few signing keys per thread, replaced round-robin. A process typically signs with one or two
// (secret, region, service) triples, and the date changes once a day.
class SigningKeyCache {
 public:
  ~SigningKeyCache() {
    for (Entry& e : entries_) Wipe(&e);
  }

  bool Get(std::string_view secret, std::string_view date, std::string_view region,
           std::string_view service, Digest* out) {
    for (const Entry& e : entries_) {
      if (e.valid && e.date == date && e.region == region && e.service == service &&
          e.secret == secret) {
        *out = e.key;
        return true;
      }
    }
    if (!DeriveKey(secret, date, region, service, out)) return false;
    Entry& e = entries_[next_];
    next_ = (next_ + 1) % entries_.size();
    Wipe(&e);
    e.secret.assign(secret);
    e.date.assign(date);
    e.region.assign(region);
    e.service.assign(service);
    e.key = *out;
    e.valid = true;
    return true;
  }

 private:
  struct Entry {
    bool valid = false;
    std::string secret;
    std::string date;
    std::string region;
    std::string service;
    Digest key{};
  };

  static void Wipe(Entry* e) {
    OPENSSL_cleanse(e->secret.data(), e->secret.size());
    OPENSSL_cleanse(e->key.data(), e->key.size());
    e->secret.clear();
    e->valid = false;
  }

  std::array<Entry, 4> entries_;
  size_t next_ = 0;
};

bool CachedSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                      std::string_view service, Digest* out) {
  thread_local SigningKeyCache cache;
  return cache.Get(secret, date, region, service, out);
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

constexpr std::array<bool, 256> MakeUnreserved() {
  std::array<bool, 256> table{};
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  table['-'] = table['_'] = table['.'] = table['~'] = true;
  return table;
}
constexpr std::array<bool, 256> kUnreserved = MakeUnreserved();

void AppendUriEncoded(std::string_view in, bool keep_slash, std::string* out) {
  size_t escaped = 0;
  for (char c : in) {
    const auto byte = static_cast<unsigned char>(c);
    if (!kUnreserved[byte] && !(keep_slash && c == '/')) ++escaped;
  }
  const size_t at = out->size();
  out->resize(at + in.size() + 2 * escaped);
  char* p = out->data() + at;
  for (char c : in) {
    const auto byte = static_cast<unsigned char>(c);
    if (kUnreserved[byte] || (keep_slash && c == '/')) {
      *p++ = c;
    } else {
      *p++ = '%';
      *p++ = kHexUpper[byte >> 4];
      *p++ = kHexUpper[byte & 0x0f];
    }
  }
}

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool LessIgnoreCase(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(ToLowerAscii(a[i]));
    const auto y = static_cast<unsigned char>(ToLowerAscii(b[i]));
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

void AppendLower(std::string_view in, std::string* out) {
  for (char c : in) out->push_back(ToLowerAscii(c));
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// AWS "Trimall": no leading or trailing blanks, inner runs of blanks become one space.
void AppendTrimmed(std::string_view value, std::string* out) {
  bool pending_space = false;
  bool wrote = false;
  for (char c : value) {
    if (IsBlank(c)) {
      pending_space = wrote;
      continue;
    }
    if (pending_space) out->push_back(' ');
    pending_space = false;
    out->push_back(c);
    wrote = true;
  }
}

bool FormatAmzDate(std::time_t t, char (&out)[kAmzDateLen + 1]) {
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return false;
  const int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) return false;
  const int fields[] = {year / 100, year % 100, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min,  tm.tm_sec};
  char* p = out;
  for (size_t i = 0; i < std::size(fields); ++i) {
    if (i == 4) *p++ = 'T';
    *p++ = static_cast<char>('0' + fields[i] / 10);
    *p++ = static_cast<char>('0' + fields[i] % 10);
  }
  *p++ = 'Z';
  *p = '\0';
  return true;
}

// ---------------------------------------------------------------------------------------------
// Canonical forms.

struct HeaderRef {
  std::string_view name;
  std::string_view value;
};
using QueryRef = HeaderRef;

// Stable sort by lower-cased name: repeated headers keep their order, which is the order their
// values are joined in.
void SortHeaders(std::vector<HeaderRef>* headers) {
  std::stable_sort(headers->begin(), headers->end(), [](const HeaderRef& a, const HeaderRef& b) {
    return LessIgnoreCase(a.name, b.name);
  });
}

void AppendSignedHeaders(const std::vector<HeaderRef>& sorted, std::string* out) {
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && EqualsIgnoreCase(sorted[i].name, sorted[i - 1].name)) continue;
    if (i > 0) out->push_back(';');
    AppendLower(sorted[i].name, out);
  }
}

// "name:value\n" per distinct name; values of a repeated name joined with ','.
void AppendCanonicalHeaders(const std::vector<HeaderRef>& sorted, std::string* out) {
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && EqualsIgnoreCase(sorted[i].name, sorted[i - 1].name)) {
      out->push_back(',');
    } else {
      if (i > 0) out->push_back('\n');
      AppendLower(sorted[i].name, out);
      out->push_back(':');
    }
    AppendTrimmed(sorted[i].value, out);
  }
  if (!sorted.empty()) out->push_back('\n');
}

void AppendCanonicalQuery(const std::vector<QueryRef>& query, std::string* out) {
  if (query.empty()) return;
  // Encode everything into one buffer, then sort (name, value) slices of it.
  struct Slice {
    size_t name_at, name_len, value_at, value_len;
  };
  std::string encoded;
  std::vector<Slice> slices;
  slices.reserve(query.size());
  for (const QueryRef& q : query) {
    Slice s{};
    s.name_at = encoded.size();
    AppendUriEncoded(q.name, /*keep_slash=*/false, &encoded);
    s.name_len = encoded.size() - s.name_at;
    s.value_at = encoded.size();
    AppendUriEncoded(q.value, /*keep_slash=*/false, &encoded);
    s.value_len = encoded.size() - s.value_at;
    slices.push_back(s);
  }
  const std::string_view buf = encoded;
  auto name = [buf](const Slice& s) { return buf.substr(s.name_at, s.name_len); };
  auto value = [buf](const Slice& s) { return buf.substr(s.value_at, s.value_len); };
  std::sort(slices.begin(), slices.end(), [&](const Slice& a, const Slice& b) {
    const int by_name = name(a).compare(name(b));
    return by_name != 0 ? by_name < 0 : value(a) < value(b);
  });
  out->reserve(out->size() + encoded.size() + 2 * slices.size());
  for (size_t i = 0; i < slices.size(); ++i) {
    if (i > 0) out->push_back('&');
    out->append(name(slices[i])).push_back('=');
    out->append(value(slices[i]));
  }
}

std::vector<QueryRef> QueryRefs(const std::vector<std::pair<std::string, std::string>>& query,
                                size_t extra) {
  std::vector<QueryRef> refs;
  refs.reserve(query.size() + extra);
  for (const auto& [name, value] : query) refs.push_back({name, value});
  return refs;
}

void BuildCanonicalRequest(std::string_view method, std::string_view encoded_path,
                           std::string_view canonical_query,
                           const std::vector<HeaderRef>& sorted_headers,
                           std::string_view signed_headers, std::string_view payload_hash,
                           std::string* out) {
  if (encoded_path.empty()) encoded_path = "/";
  size_t size = method.size() + encoded_path.size() + canonical_query.size() +
                signed_headers.size() + payload_hash.size() + 8;
  for (const HeaderRef& h : sorted_headers) size += h.name.size() + h.value.size() + 2;
  out->reserve(size);
  out->append(method).push_back('\n');
  out->append(encoded_path).push_back('\n');
  out->append(canonical_query).push_back('\n');
  AppendCanonicalHeaders(sorted_headers, out);
  out->push_back('\n');
  out->append(signed_headers).push_back('\n');
  out->append(payload_hash);
}

std::string CredentialScope(std::string_view date, std::string_view region,
                            std::string_view service) {
  std::string scope;
  scope.reserve(date.size() + region.size() + service.size() + 16);
  scope.append(date).append("/").append(region).append("/").append(service).append("/aws4_request");
  return scope;
}

bool BuildStringToSign(std::string_view amz_date, std::string_view scope,
                       std::string_view canonical_request, std::string* out) {
  Digest hash;
  if (!Sha256(canonical_request, &hash)) return false;
  out->reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 2 * kDigestLen + 3);
  out->append(kAlgorithm).push_back('\n');
  out->append(amz_date).push_back('\n');
  out->append(scope).push_back('\n');
  AppendHex(hash, out);
  return true;
}

// Hex signature of `canonical_request`, appended to `out`.
bool AppendSignature(std::string_view secret, std::string_view amz_date, std::string_view region,
                     std::string_view service, std::string_view scope,
                     std::string_view canonical_request, std::string* out) {
  std::string string_to_sign;
  Digest key;
  Digest signature;
  const bool ok = BuildStringToSign(amz_date, scope, canonical_request, &string_to_sign) &&
                  CachedSigningKey(secret, amz_date.substr(0, 8), region, service, &key) &&
                  Hmac(View(key), string_to_sign, &signature);
  OPENSSL_cleanse(key.data(), key.size());
  if (ok) AppendHex(signature, out);
  return ok;
}

std::string_view PayloadHashFor(std::string_view payload_hash, bool is_s3) {
  if (!payload_hash.empty()) return payload_hash;
  return is_s3 ? kUnsignedPayload : kEmptySha256;
}

}  // namespace

// -------------------------------------------------------------------------------------------
// Public API.

std::string UriEncode(std::string_view in, bool keep_slash) {
  std::string out;
  AppendUriEncoded(in, keep_slash, &out);
  return out;
}

std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out;
  AppendCanonicalQuery(QueryRefs(query, 0), &out);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Digest d;
  if (!Sha256(data, &d)) return {};
  std::string out;
  AppendHex(d, &out);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  Digest d;
  if (!Hmac(key, data, &d)) return {};
  return std::string(View(d));
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  Digest d;
  if (!DeriveKey(secret, date, region, service, &d)) return {};
  std::string out(View(d));
  OPENSSL_cleanse(d.data(), d.size());
  return out;
}

std::string AmzDate(std::time_t t) {
  char buf[kAmzDateLen + 1];
  if (!FormatAmzDate(t, buf)) return {};
  return std::string(buf, kAmzDateLen);
}

std::string CanonicalRequest(const SignableRequest& request, const HeaderList& all_headers,
                             std::string* signed_headers_out) {
  std::vector<HeaderRef> headers;
  headers.reserve(all_headers.size());
  for (const auto& [name, value] : all_headers) headers.push_back({name, value});
  SortHeaders(&headers);
  std::string signed_headers;
  AppendSignedHeaders(headers, &signed_headers);
  std::string query;
  AppendCanonicalQuery(QueryRefs(request.query, 0), &query);
  std::string out;
  BuildCanonicalRequest(request.method, request.encoded_path, query, headers, signed_headers,
                        request.payload_hash, &out);
  if (signed_headers_out != nullptr) *signed_headers_out = std::move(signed_headers);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out;
  if (!BuildStringToSign(amz_date, scope, canonical_request, &out)) return {};
  return out;
}

HeaderList SignRequest(const SignableRequest& request, const AwsCredentials& creds,
                       std::string_view region, std::string_view service, std::time_t now) {
  char date_buf[kAmzDateLen + 1];
  if (!FormatAmzDate(now, date_buf)) return {};
  const std::string_view amz_date(date_buf, kAmzDateLen);
  const bool is_s3 = service == "s3";
  const bool has_token = !creds.session_token.empty();
  const std::string_view payload_hash = PayloadHashFor(request.payload_hash, is_s3);

  std::vector<HeaderRef> headers;
  headers.reserve(request.headers.size() + 4);
  headers.push_back({"host", request.host});
  headers.push_back({"x-amz-date", amz_date});
  if (is_s3) headers.push_back({"x-amz-content-sha256", payload_hash});
  if (has_token) headers.push_back({"x-amz-security-token", creds.session_token});
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoreCase(name, "host") || EqualsIgnoreCase(name, "x-amz-date") ||
        EqualsIgnoreCase(name, "authorization") ||
        (is_s3 && EqualsIgnoreCase(name, "x-amz-content-sha256")) ||
        (has_token && EqualsIgnoreCase(name, "x-amz-security-token"))) {
      continue;
    }
    headers.push_back({name, value});
  }
  SortHeaders(&headers);

  std::string signed_headers;
  AppendSignedHeaders(headers, &signed_headers);
  std::string query;
  AppendCanonicalQuery(QueryRefs(request.query, 0), &query);
  std::string canonical;
  BuildCanonicalRequest(request.method, request.encoded_path, query, headers, signed_headers,
                        payload_hash, &canonical);

  const std::string scope = CredentialScope(amz_date.substr(0, 8), region, service);
  std::string authorization;
  authorization.reserve(kAlgorithm.size() + creds.access_key_id.size() + scope.size() +
                        signed_headers.size() + 2 * kDigestLen + 48);
  authorization.append(kAlgorithm)
      .append(" Credential=")
      .append(creds.access_key_id)
      .append("/")
      .append(scope)
      .append(", SignedHeaders=")
      .append(signed_headers)
      .append(", Signature=");
  if (!AppendSignature(creds.secret_access_key, amz_date, region, service, scope, canonical,
                       &authorization)) {
    return {};
  }

  HeaderList out;
  out.reserve(4);
  out.emplace_back("Authorization", std::move(authorization));
  out.emplace_back("x-amz-date", std::string(amz_date));
  if (is_s3) out.emplace_back("x-amz-content-sha256", std::string(payload_hash));
  if (has_token) out.emplace_back("x-amz-security-token", creds.session_token);
  return out;
}

std::string PresignUrl(std::string_view scheme, const SignableRequest& request,
                       const AwsCredentials& creds, std::string_view region,
                       std::string_view service, std::time_t now, int64_t expires_seconds) {
  char date_buf[kAmzDateLen + 1];
  if (!FormatAmzDate(now, date_buf)) return {};
  const std::string_view amz_date(date_buf, kAmzDateLen);
  const bool is_s3 = service == "s3";
  const std::string_view payload_hash =
      is_s3 ? kUnsignedPayload : PayloadHashFor(request.payload_hash, false);
  // Both arms are string_views: a std::string arm would make the result a dangling temporary.
  const std::string_view method =
      request.method.empty() ? std::string_view("GET") : std::string_view(request.method);
  const std::string_view path =
      request.encoded_path.empty() ? std::string_view("/") : std::string_view(request.encoded_path);

  std::vector<HeaderRef> headers;
  headers.reserve(request.headers.size() + 1);
  headers.push_back({"host", request.host});
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoreCase(name, "host") || EqualsIgnoreCase(name, "authorization")) continue;
    headers.push_back({name, value});
  }
  SortHeaders(&headers);
  std::string signed_headers;
  AppendSignedHeaders(headers, &signed_headers);

  const std::string scope = CredentialScope(amz_date.substr(0, 8), region, service);
  std::string credential;
  credential.reserve(creds.access_key_id.size() + 1 + scope.size());
  credential.append(creds.access_key_id).append("/").append(scope);
  char expires_buf[24];
  const int64_t expires = std::clamp<int64_t>(expires_seconds, 1, kMaxPresignSeconds);
  const auto [expires_end, ec] =
      std::to_chars(expires_buf, expires_buf + sizeof(expires_buf), expires);
  if (ec != std::errc()) return {};

  std::vector<QueryRef> query_refs = QueryRefs(request.query, 6);
  query_refs.push_back({"X-Amz-Algorithm", kAlgorithm});
  query_refs.push_back({"X-Amz-Credential", credential});
  query_refs.push_back({"X-Amz-Date", amz_date});
  query_refs.push_back({"X-Amz-Expires", std::string_view(expires_buf, expires_end - expires_buf)});
  query_refs.push_back({"X-Amz-SignedHeaders", signed_headers});
  if (!creds.session_token.empty()) {
    query_refs.push_back({"X-Amz-Security-Token", creds.session_token});
  }
  std::string query;
  AppendCanonicalQuery(query_refs, &query);

  std::string canonical;
  BuildCanonicalRequest(method, path, query, headers, signed_headers, payload_hash, &canonical);

  std::string url;
  url.reserve(scheme.size() + 3 + request.host.size() + path.size() + query.size() + 18 +
              2 * kDigestLen);
  url.append(scheme).append("://").append(request.host).append(path);
  url.push_back('?');
  url.append(query).append("&X-Amz-Signature=");
  if (!AppendSignature(creds.secret_access_key, amz_date, region, service, scope, canonical,
                       &url)) {
    return {};
  }
  return url;
}

}  // namespace quarry::auth
