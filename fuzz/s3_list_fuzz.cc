// libFuzzer target: ParseListObjectsV2, the parser of S3 listing replies.
// Byte 0 picks the mode; the rest is the input.
//  - even: the rest is a reply body as a server (or anything in between) might send it. Nothing
//    may crash; a failure is an IoError with the XML parser's description; there are no more
//    objects than <Contents elements; and when the body has no entity ('&'), no '\r' and no
//    "url" (so nothing is decoded), every key, prefix, ETag, date and token is a piece of it.
//  - odd: the rest describes a listing (keys, sizes, ETags, prefixes, truncation, token), which
//    is written as S3 writes it — keys url-encoded or XML-escaped — and must parse back equal.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sigv4.h"
#include "storage/s3_xml.h"

namespace {

size_t Count(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

void CheckArbitraryBody(std::string_view body) {
  auto parsed = quarry::ParseListObjectsV2(body);
  if (!parsed.ok()) {
    if (parsed.status().code() != quarry::StatusCode::kIoError) abort();
    if (parsed.status().message().empty()) abort();
    return;
  }
  const quarry::ListPage& page = parsed->page;
  if (page.objects.size() > Count(body, "<Contents")) abort();
  if (page.common_prefixes.size() > Count(body, "<CommonPrefixes")) abort();
  const bool verbatim = body.find('&') == std::string_view::npos &&
                        body.find('\r') == std::string_view::npos &&
                        body.find("url") == std::string_view::npos;
  if (!verbatim) return;
  auto in_body = [&](const std::string& s) { return body.find(s) != std::string_view::npos; };
  for (const auto& o : page.objects) {
    if (!in_body(o.key) || !in_body(o.etag) || !in_body(o.last_modified)) abort();
  }
  for (const auto& p : page.common_prefixes) {
    if (!in_body(p)) abort();
  }
  if (!in_body(parsed->next_continuation_token)) abort();
  if (parsed->truncated && !in_body("true")) abort();
}

// Text an XML document can carry: every byte but NUL.
std::string XmlText(FuzzedDataProvider& in, size_t max) {
  std::string s = in.ConsumeRandomLengthString(max);
  std::erase(s, '\0');
  return s;
}

void CheckWrittenListing(FuzzedDataProvider& in) {
  const bool url = in.ConsumeBool();
  const bool pretty = in.ConsumeBool();  // white space between elements, as RGW writes
  const std::string nl = pretty ? "\n  " : "";
  quarry::ListObjectsV2Page want;
  want.truncated = in.ConsumeBool();
  want.next_continuation_token = XmlText(in, 64);
  const size_t objects = in.ConsumeIntegralInRange<size_t>(0, 8);
  const size_t prefixes = in.ConsumeIntegralInRange<size_t>(0, 4);
  // With encoding-type=url a key may hold any byte, NUL too; without, what XML can carry.
  auto key = [&] { return url ? in.ConsumeRandomLengthString(64) : XmlText(in, 64); };
  auto write_key = [&](const std::string& k) {
    return url ? quarry::auth::UriEncode(k, /*keep_slash=*/true) : quarry::XmlEscape(k);
  };
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>" + nl;
  body += "<Name>bucket</Name>" + nl;
  if (url) body += "<EncodingType>url</EncodingType>" + nl;
  body += std::string("<IsTruncated>") + (want.truncated ? "true" : "false") + "</IsTruncated>";
  if (!want.next_continuation_token.empty()) {
    body += nl + "<NextContinuationToken>" + quarry::XmlEscape(want.next_continuation_token) +
            "</NextContinuationToken>";
  }
  for (size_t i = 0; i < objects; ++i) {
    quarry::ObjectInfo o;
    o.key = key();
    o.size = in.ConsumeIntegral<uint64_t>();
    o.etag = XmlText(in, 40);
    o.last_modified = XmlText(in, 30);
    body += nl + "<Contents><Key>" + write_key(o.key) + "</Key><LastModified>" +
            quarry::XmlEscape(o.last_modified) + "</LastModified><ETag>&quot;" +
            quarry::XmlEscape(o.etag) + "&quot;</ETag><Size>" + std::to_string(o.size) +
            "</Size><StorageClass>STANDARD</StorageClass></Contents>";
    want.page.objects.push_back(std::move(o));
  }
  for (size_t i = 0; i < prefixes; ++i) {
    std::string p = key();
    body += nl + "<CommonPrefixes><Prefix>" + write_key(p) + "</Prefix></CommonPrefixes>";
    want.page.common_prefixes.push_back(std::move(p));
  }
  body += "\n</ListBucketResult>\n";

  auto got = quarry::ParseListObjectsV2(body);
  if (!got.ok()) abort();
  if (got->truncated != want.truncated) abort();
  if (got->next_continuation_token != want.next_continuation_token) abort();
  if (got->page.objects.size() != want.page.objects.size()) abort();
  for (size_t i = 0; i < want.page.objects.size(); ++i) {
    const auto& g = got->page.objects[i];
    const auto& w = want.page.objects[i];
    if (g.key != w.key || g.size != w.size || g.etag != w.etag ||
        g.last_modified != w.last_modified) {
      abort();
    }
  }
  if (got->page.common_prefixes != want.page.common_prefixes) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  if ((bytes[0] & 1) == 0) {
    CheckArbitraryBody(std::string_view(reinterpret_cast<const char*>(bytes + 1), size - 1));
  } else {
    FuzzedDataProvider in(bytes + 1, size - 1);
    CheckWrittenListing(in);
  }
  return 0;
}
