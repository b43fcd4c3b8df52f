#include "storage/s3_xml.h"

#include <charconv>
#include <pugixml.hpp>

namespace quarry {
namespace {

// Element text as sent: also a key of only white space, which pugixml drops by default. Bodies
// are read as UTF-8 (what S3 sends), never converted from an encoding guessed from their bytes.
constexpr unsigned kParseOptions = pugi::parse_default | pugi::parse_ws_pcdata_single;

}  // namespace

Result<ListObjectsV2Page> ParseListObjectsV2(std::string_view body) {
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(body.data(), body.size(), kParseOptions, pugi::encoding_utf8);
  if (!parsed) return Status(StatusCode::kIoError, parsed.description());
  ListObjectsV2Page out;
  auto root = doc.child("ListBucketResult");
  const bool url_encoded = std::string_view(root.child_value("EncodingType")) == "url";
  auto decode = [&](const char* s) { return url_encoded ? UrlDecode(s) : std::string(s); };
  for (auto node = root.child("Contents"); node; node = node.next_sibling("Contents")) {
    ObjectInfo info;
    info.key = decode(node.child_value("Key"));
    info.size = node.child("Size").text().as_ullong();
    info.etag = StripQuotes(node.child_value("ETag"));
    info.last_modified = node.child_value("LastModified");
    out.page.objects.push_back(std::move(info));
  }
  for (auto node = root.child("CommonPrefixes"); node; node = node.next_sibling("CommonPrefixes")) {
    out.page.common_prefixes.push_back(decode(node.child_value("Prefix")));
  }
  out.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  out.next_continuation_token = root.child_value("NextContinuationToken");
  return out;
}

S3ErrorReply ParseS3ErrorReply(std::string_view body) {
  S3ErrorReply out;
  if (body.empty()) return out;
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size(), kParseOptions, pugi::encoding_utf8)) return out;
  out.code = doc.child("Error").child_value("Code");
  out.message = doc.child("Error").child_value("Message");
  return out;
}

bool IsRetryableS3Reply(const http::HttpResponse& reply) {
  if (http::IsRetryableHttpStatus(reply.status)) return true;
  return reply.status == 400 && ParseS3ErrorReply(reply.body).code == "RequestTimeout";
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters cannot appear in XML 1.0 text; a numeric reference keeps them. A
        // raw '\r' would be read back as '\n' (XML normalises line ends), so it is one too.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "&#" + std::to_string(static_cast<int>(c)) + ";";
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

bool XmlCanCarry(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

std::string UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
      if (ec == std::errc() && p == text.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i] == '+' ? ' ' : text[i]);
  }
  return out;
}

std::string StripQuotes(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

}  // namespace quarry
