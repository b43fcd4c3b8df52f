#include "storage/store_options.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace quarry {

std::string OptionText(const StorageOptions& options, const std::string& key,
                       const std::string& fallback) {
  auto it = options.find(key);
  return it == options.end() || it->second.empty() ? fallback : it->second;
}

Result<uint64_t> OptionCount(const StorageOptions& options, const std::string& key,
                             uint64_t fallback, uint64_t min, uint64_t max, std::string_view unit) {
  const std::string v = OptionText(options, key);
  if (v.empty()) return fallback;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < min || n > max) {
    return InvalidArgument("storage option '" + key + "' = '" + v +
                           "' is not allowed: give a whole number of " + std::string(unit) +
                           " from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

Result<bool> OptionFlag(const StorageOptions& options, const std::string& key, bool fallback) {
  const std::string given = OptionText(options, key);
  if (given.empty()) return fallback;
  std::string v = given;
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return InvalidArgument("storage option '" + key + "' = '" + given +
                         "' is not allowed: give true or false");
}

Result<http::HttpClientOptions> HttpClientOptionsFrom(const StorageOptions& options) {
  constexpr uint64_t kDayMs = 86400000;
  QUARRY_ASSIGN_OR_RETURN(
      auto connect_ms, OptionCount(options, "connect_timeout_ms", 5000, 1, kDayMs, "milliseconds"));
  QUARRY_ASSIGN_OR_RETURN(
      auto read_ms, OptionCount(options, "read_timeout_ms", 30000, 1, kDayMs, "milliseconds"));
  QUARRY_ASSIGN_OR_RETURN(auto attempts,
                          OptionCount(options, "max_attempts", 5, 1, 100, "attempts per request"));
  http::HttpClientOptions out;
  out.connect_timeout_ms = static_cast<int>(connect_ms);
  out.read_timeout_ms = static_cast<int>(read_ms);
  out.retry.max_attempts = static_cast<int>(attempts);
  QUARRY_ASSIGN_OR_RETURN(out.verify_tls, OptionFlag(options, "verify_tls", true));
  QUARRY_ASSIGN_OR_RETURN(out.receive_in_place, OptionFlag(options, "receive_in_place", true));
  return out;
}

bool IsIpOrLocalHost(std::string_view host) {
  if (auto colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']') == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty()) return false;
  if (host == "localhost" || host.front() == '[') return true;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

}  // namespace quarry
