// Azure Shared Key and SAS signing: canonical strings and HMAC-SHA256 over them.
#include "auth/azure_shared_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "auth/sigv4.h"

namespace quarry::auth {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view TrimWhite(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// base64(HMAC-SHA256(key, text)), or "" when OpenSSL fails.
std::string SignBase64(std::string_view decoded_key, std::string_view text) {
  std::string mac = HmacSha256(decoded_key, text);
  return mac.empty() ? std::string() : Base64Encode(mac);
}

// "2026-01-02T03:04:05Z" for a UTC time.
std::string IsoSeconds(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  text = TrimWhite(text);
  const auto is_b64 = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  };
  size_t pad = 0;
  while (pad < text.size() && pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  const std::string_view body = text.substr(0, text.size() - pad);
  if (text.size() % 4 != 0 || !std::all_of(body.begin(), body.end(), is_b64)) {
    return InvalidArgument("the text is not base64 (A-Z a-z 0-9 + / with '=' padding)");
  }
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return InvalidArgument("the text is not base64");
  // EVP_DecodeBlock counts the padding as zero bytes.
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string AzureDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string SharedKeyStringToSign(const AzureSignableRequest& request, std::string_view account) {
  std::map<std::string, std::string> standard;    // the standard headers, by lower-case name
  std::map<std::string, std::string> ms_headers;  // x-ms-*, by lower-case name
  for (const auto& [name, value] : request.headers) {
    std::string lower = Lower(name);
    if (lower.starts_with("x-ms-")) {
      ms_headers[std::move(lower)] = std::string(TrimWhite(value));
    } else {
      standard[std::move(lower)] = value;
    }
  }
  auto header = [&](const char* name) -> std::string_view {
    auto it = standard.find(name);
    return it == standard.end() ? std::string_view() : std::string_view(it->second);
  };
  std::string out = request.method;
  out += '\n';
  for (const char* name : {"content-encoding", "content-language"}) {
    out.append(header(name)).push_back('\n');
  }
  if (request.content_length > 0) out += std::to_string(request.content_length);
  out += '\n';
  for (const char* name : {"content-md5", "content-type", "date", "if-modified-since", "if-match",
                           "if-none-match", "if-unmodified-since", "range"}) {
    out.append(header(name)).push_back('\n');
  }
  for (const auto& [name, value] : ms_headers) {
    out.append(name).append(":").append(value).push_back('\n');
  }
  out += "/";
  out += account;
  out += request.encoded_path;
  std::map<std::string, std::vector<std::string>> query;
  for (const auto& [name, value] : request.query) query[Lower(name)].push_back(value);
  for (auto& [name, values] : query) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += values[i];
    }
  }
  return out;
}

std::string SharedKeyAuthorization(const AzureSignableRequest& request, std::string_view account,
                                   std::string_view decoded_key) {
  std::string signature = SignBase64(decoded_key, SharedKeyStringToSign(request, account));
  if (signature.empty()) return {};
  return "SharedKey " + std::string(account) + ":" + signature;
}

std::string NormalizeSasToken(std::string_view token) {
  token = TrimWhite(token);
  if (!token.empty() && token.front() == '?') token.remove_prefix(1);
  return std::string(token);
}

std::string BlobServiceSas(const BlobSasRequest& request, std::string_view decoded_key) {
  const std::string expiry = IsoSeconds(request.expiry);
  // Fields of the 2020-12-06+ service SAS, in order: permissions, start, expiry, resource,
  // identifier, IP, protocol, version, resource type, snapshot time, encryption scope, then
  // the five response-header overrides (cache-control, disposition, encoding, language, type).
  std::string to_sign = request.permissions + "\n\n" + expiry + "\n/blob/" + request.account + "/" +
                        request.container + "/" + request.blob + "\n\n\n\n" + request.version +
                        "\nb\n\n\n\n\n\n\n";
  std::string signature = SignBase64(decoded_key, to_sign);
  if (signature.empty()) return {};
  return "sv=" + UriEncode(request.version, false) + "&se=" + UriEncode(expiry, false) +
         "&sr=b&sp=" + UriEncode(request.permissions, false) +
         "&sig=" + UriEncode(signature, false);
}

}  // namespace quarry::auth
