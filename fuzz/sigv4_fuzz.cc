// libFuzzer target: SigV4 canonicalisation (auth/sigv4.h) on arbitrary paths, query parameters and
// headers. Properties:
//  - UriEncode keeps exactly the unreserved bytes (and '/' for paths), writes every other byte
//    as %XX in upper-case hex, and percent-decoding gives the input back;
//  - CanonicalQueryString has one "name=value" per parameter, sorted, that decode to the
//    parameters given, whatever their order;
//  - CanonicalRequest has the six lines of the AWS format with the signed headers lower-cased,
//    sorted and unique, and does not depend on the order of headers of different names;
//  - SignRequest gives the same signature for the same request and secret, also after signing
//    with another secret in between (its signing-key cache), and another one for another secret.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sigv4.h"

namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower-case hex is not canonical
}

// Decodes the output of UriEncode, aborting on anything UriEncode may not write.
std::string DecodeEncoded(std::string_view encoded, bool keep_slash) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(c);
      continue;
    }
    if (c != '%' || i + 2 >= encoded.size()) abort();
    const int hi = HexValue(encoded[i + 1]);
    const int lo = HexValue(encoded[i + 2]);
    if (hi < 0 || lo < 0) abort();
    const char byte = static_cast<char>(hi * 16 + lo);
    // A byte UriEncode keeps must not have been escaped.
    if (IsUnreserved(byte) || (keep_slash && byte == '/')) abort();
    out.push_back(byte);
    i += 2;
  }
  return out;
}

void CheckUriEncode(const std::string& text) {
  for (bool keep_slash : {false, true}) {
    const std::string encoded = quarry::auth::UriEncode(text, keep_slash);
    if (DecodeEncoded(encoded, keep_slash) != text) abort();
  }
  if (quarry::auth::UriEncodePath(text) != quarry::auth::UriEncode(text, true)) abort();
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

void CheckCanonicalQuery(const Query& query) {
  const std::string canonical = quarry::auth::CanonicalQueryString(query);
  if (query.empty()) {
    if (!canonical.empty()) abort();
    return;
  }
  std::vector<std::pair<std::string, std::string>> decoded;
  std::vector<std::pair<std::string_view, std::string_view>> encoded;
  for (std::string_view piece : Split(canonical, '&')) {
    const auto eq = piece.find('=');
    if (eq == std::string_view::npos || piece.find('=', eq + 1) != std::string_view::npos) abort();
    encoded.emplace_back(piece.substr(0, eq), piece.substr(eq + 1));
    decoded.emplace_back(DecodeEncoded(piece.substr(0, eq), false),
                         DecodeEncoded(piece.substr(eq + 1), false));
  }
  if (!std::is_sorted(encoded.begin(), encoded.end())) abort();
  Query given = query;
  std::sort(given.begin(), given.end());
  std::sort(decoded.begin(), decoded.end());
  if (decoded != given) abort();
  Query reversed(query.rbegin(), query.rend());
  if (quarry::auth::CanonicalQueryString(reversed) != canonical) abort();
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

void CheckCanonicalRequest(const quarry::auth::SignableRequest& request,
                           const quarry::auth::HeaderList& headers) {
  // Names and values without line breaks, as HTTP carries them.
  for (const auto& [name, value] : headers) {
    if (name.find('\n') != std::string::npos || value.find('\n') != std::string::npos) return;
    if (name.find(';') != std::string::npos || name.find(':') != std::string::npos) return;
    if (name.empty()) return;
  }
  if (request.method.find('\n') != std::string::npos) return;
  std::string signed_headers;
  const std::string canonical = quarry::auth::CanonicalRequest(request, headers, &signed_headers);
  std::vector<std::string> names;
  for (const auto& h : headers) names.push_back(Lower(h.first));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string want_signed;
  for (const auto& n : names) want_signed += (want_signed.empty() ? "" : ";") + n;
  if (signed_headers != want_signed) abort();
  // method, path, query, one line per distinct header, blank line, signed headers, payload hash.
  const auto lines = Split(canonical, '\n');
  if (lines.size() != 3 + names.size() + 3) abort();
  if (lines[0] != request.method) abort();
  if (lines[1] != (request.encoded_path.empty() ? "/" : request.encoded_path)) abort();
  if (lines[2] != quarry::auth::CanonicalQueryString(request.query)) abort();
  for (size_t i = 0; i < names.size(); ++i) {
    if (lines[3 + i].substr(0, names[i].size() + 1) != names[i] + ":") abort();
  }
  if (!lines[3 + names.size()].empty()) abort();
  if (lines[4 + names.size()] != want_signed) abort();
  if (lines[5 + names.size()] != request.payload_hash) abort();
  // Reordering headers of different names (keeping the order among each name's values) changes
  // nothing: move every header of the first name to the end.
  if (!names.empty()) {
    quarry::auth::HeaderList moved;
    quarry::auth::HeaderList first;
    for (const auto& h : headers) (Lower(h.first) == names.front() ? first : moved).push_back(h);
    moved.insert(moved.end(), first.begin(), first.end());
    if (quarry::auth::CanonicalRequest(request, moved, nullptr) != canonical) abort();
  }
}

std::string AuthorizationOf(const quarry::auth::HeaderList& signed_headers) {
  for (const auto& [name, value] : signed_headers) {
    if (name == "Authorization" || name == "authorization") return value;
  }
  abort();
}

void CheckSignature(const quarry::auth::SignableRequest& request, const std::string& secret,
                    const std::string& region, std::time_t now) {
  const quarry::auth::AwsCredentials creds{"AKIDEXAMPLE", secret, ""};
  const quarry::auth::AwsCredentials other{"AKIDEXAMPLE", secret + "x", ""};
  const auto first = quarry::auth::SignRequest(request, creds, region, "s3", now);
  if (first.empty()) return;  // a time SigV4 cannot write (before year 0 or after 9999)
  const auto with_other = quarry::auth::SignRequest(request, other, region, "s3", now);
  const auto again = quarry::auth::SignRequest(request, creds, region, "s3", now);
  if (AuthorizationOf(again) != AuthorizationOf(first)) abort();
  if (AuthorizationOf(with_other) == AuthorizationOf(first)) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider in(bytes, size);
  quarry::auth::SignableRequest request;
  request.method = in.PickValueInArray({"GET", "PUT", "POST", "DELETE", "HEAD"});
  const std::string path = in.ConsumeRandomLengthString(128);
  CheckUriEncode(path);
  request.encoded_path = quarry::auth::UriEncodePath(path);
  request.host = in.ConsumeRandomLengthString(32);
  const size_t params = in.ConsumeIntegralInRange<size_t>(0, 8);
  for (size_t i = 0; i < params; ++i) {
    // Repeated names are allowed (sorted by value then); a short alphabet makes them likely.
    std::string name = in.ConsumeBool() ? in.ConsumeRandomLengthString(16)
                                        : std::string(1, in.PickValueInArray({'a', 'b', 'A'}));
    request.query.emplace_back(std::move(name), in.ConsumeRandomLengthString(32));
  }
  CheckCanonicalQuery(request.query);
  const size_t header_count = in.ConsumeIntegralInRange<size_t>(0, 6);
  quarry::auth::HeaderList headers = {{"host", request.host}};
  for (size_t i = 0; i < header_count; ++i) {
    std::string name =
        in.ConsumeBool()
            ? in.ConsumeRandomLengthString(12)
            : in.PickValueInArray({"X-Amz-Meta-A", "x-amz-meta-a", "Range", "content-type"});
    headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(40));
  }
  request.payload_hash = in.ConsumeBool() ? "UNSIGNED-PAYLOAD" : quarry::auth::Sha256Hex(path);
  CheckCanonicalRequest(request, headers);
  request.headers.assign(headers.begin() + 1, headers.end());
  const std::string secret = in.ConsumeRandomLengthString(40);
  const std::string region = in.ConsumeRandomLengthString(16);
  CheckSignature(request, secret, region, in.ConsumeIntegral<int64_t>());
  return 0;
}
