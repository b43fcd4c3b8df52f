#include "storage/reply_headers.h"

#include <charconv>
#include <ctime>

#include "storage/s3_xml.h"

namespace quarry {

std::string HttpDateToIso(std::string_view http_date) {
  std::tm tm{};
  std::string text(http_date);
  if (strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) return text;
  char iso[32];
  std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return iso;
}

bool ReadsWholeObject(uint64_t offset, uint64_t length, std::optional<uint64_t> object_size) {
  return offset == 0 && (length == UINT64_MAX || (object_size && length >= *object_size));
}

std::string ByteRangeHeader(uint64_t offset, uint64_t length) {
  std::string range = "bytes=" + std::to_string(offset) + "-";
  if (length != UINT64_MAX) range += std::to_string(offset + length - 1);
  return range;
}

uint64_t ObjectSizeFromHeaders(const http::HttpResponse& reply, std::string_view length_header) {
  std::string_view number = reply.Header(length_header);
  std::string_view range = reply.Header("content-range");  // "bytes 0-99/12345"
  if (auto slash = range.rfind('/'); slash != std::string_view::npos) {
    number = range.substr(slash + 1);
  }
  uint64_t size = 0;
  std::from_chars(number.data(), number.data() + number.size(), size);
  return size;
}

ObjectInfo InfoFromHeaders(std::string_view key, const http::HttpResponse& reply) {
  ObjectInfo info;
  info.key = std::string(key);
  info.etag = StripQuotes(reply.Header("etag"));
  info.last_modified = HttpDateToIso(reply.Header("last-modified"));
  info.content_type = std::string(reply.Header("content-type"));
  info.content_encoding = std::string(reply.Header("content-encoding"));
  info.size = ObjectSizeFromHeaders(reply);
  return info;
}

}  // namespace quarry
