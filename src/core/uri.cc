#include "quarry/uri.h"

#include <cctype>
#include <filesystem>

namespace quarry {
namespace {

bool LooksLikeScheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

Result<Uri> ParseLocalPath(std::string_view text, std::string_view original) {
  if (text.empty()) return InvalidArgument("empty path in '" + std::string(original) + "'");
  std::filesystem::path p(text);
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  if (ec) return InvalidArgument("cannot resolve local path '" + std::string(original) + "'");
  std::string s = abs.lexically_normal().string();
  // lexically_normal drops a trailing slash only for "." components; keep the caller's intent.
  bool wants_prefix = text.back() == '/';
  if (wants_prefix && (s.empty() || s.back() != '/')) s += '/';
  if (!wants_prefix && s.size() > 1 && s.back() == '/') s.pop_back();
  Uri uri;
  uri.scheme = "file";
  uri.key = s.substr(1);  // drop the root '/'
  return uri;
}

}  // namespace

std::string Uri::ToString() const {
  if (scheme == "file") return "file:///" + key;
  std::string out = scheme + "://" + bucket;
  if (!key.empty()) out += "/" + key;
  return out;
}

Uri Uri::WithKey(std::string new_key) const {
  Uri out = *this;
  out.key = std::move(new_key);
  return out;
}

Result<Uri> ParseUri(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || !LooksLikeScheme(text.substr(0, colon))) {
    // No scheme: a plain local path.
    return ParseLocalPath(text, text);
  }
  std::string scheme(text.substr(0, colon));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = text.substr(colon + 1);
  if (rest.substr(0, 2) != "//") {
    return InvalidArgument("malformed URI '" + std::string(text) +
                           "': expected scheme://bucket/key, e.g. s3://my-bucket/data/");
  }
  rest.remove_prefix(2);
  if (scheme == "file") {
    if (rest.empty() || rest[0] != '/') {
      return InvalidArgument("malformed URI '" + std::string(text) +
                             "': file URIs take an absolute path, e.g. file:///tmp/data.csv");
    }
    return ParseLocalPath(rest, text);
  }
  auto slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  if (bucket.empty()) {
    return InvalidArgument("malformed URI '" + std::string(text) +
                           "': the bucket name is missing, e.g. " + scheme + "://my-bucket/key");
  }
  Uri uri;
  uri.scheme = std::move(scheme);
  uri.bucket = std::string(bucket);
  if (slash != std::string_view::npos) uri.key = std::string(rest.substr(slash + 1));
  return uri;
}

}  // namespace quarry
