// The XML bodies of the S3 REST API that the S3 backend reads and writes: ListObjectsV2 replies,
// error replies, and escaping for the requests it sends. Pure functions of their input (no I/O),
// kept apart from the backend so that they can be tested and fuzzed on their own.
#pragma once

#include <string>
#include <string_view>

#include "http/http_client.h"
#include "quarry/object_store.h"
#include "quarry/status.h"

namespace quarry {

// One page of a ListObjectsV2 reply.
struct ListObjectsV2Page {
  ListPage page;                        // keys and common prefixes, decoded
  bool truncated = false;               // <IsTruncated>true</IsTruncated>: more pages follow
  std::string next_continuation_token;  // as sent; empty when absent
};

// Parses the body of a ListObjectsV2 reply (<ListBucketResult>), read as UTF-8. Each <Contents>
// gives an ObjectInfo with key, size (0 when missing or not a number), etag without its surrounding
// quotes, and last_modified as sent; each <CommonPrefixes><Prefix> a common prefix. When
// <EncodingType> is "url", keys and prefixes are percent-decoded ('+' is a space), as the reply
// to a request with encoding-type=url has them encoded. Text is taken byte for byte apart from
// XML's own decoding (entities, CDATA, "\r\n" read as "\n"); a key of only white space is kept.
// A well-formed body without <ListBucketResult> gives an empty page that is not truncated.
// Fails with IoError when the body is not well-formed XML; the message is the XML parser's
// description of the fault, for the caller to put after what it was listing.
Result<ListObjectsV2Page> ParseListObjectsV2(std::string_view body);

// The <Code> and <Message> of an S3 error reply (<Error>...</Error>).
struct S3ErrorReply {
  std::string code;  // "NoSuchKey", "SignatureDoesNotMatch", ...
  std::string message;
};

// Parses an error reply's body. Both fields are empty when the body is empty, not well-formed
// XML, or has no <Error> root (servers and proxies also answer with HTML or nothing); never fails.
S3ErrorReply ParseS3ErrorReply(std::string_view body);

// Whether an S3 reply is worth sending again: the statuses any service retries
// (http::IsRetryableHttpStatus) and S3's own 400 RequestTimeout (the request's body came too
// slowly). The HTTP client of an S3 store asks this.
bool IsRetryableS3Reply(const http::HttpResponse& reply);

// Escapes `text` for an XML element's content, such that a conforming parser reads back the same
// bytes: & < > " ' become entities, and control characters other than '\t' and '\n' numeric
// references (also '\r', which a parser would read as '\n').
// "\0" cannot be written in XML at all; it becomes "&#0;", which lenient parsers accept.
std::string XmlEscape(std::string_view text);

// True if XML 1.0 can carry `text` in an element, escaped by XmlEscape: no control character
// other than '\t', '\n' and '\r' (XML 1.0 forbids the others even as numeric references, and
// servers such as Ceph RGW reject them). A key that fails this is sent where no XML carries it,
// e.g. deleted by its own DELETE request instead of in a DeleteObjects batch.
bool XmlCanCarry(std::string_view text);

// Percent-decoding as in ListObjectsV2 replies with encoding-type=url: "%XX" (hex, either case)
// is the byte XX, '+' is a space; a '%' not followed by two hex digits is kept as it is.
std::string UrlDecode(std::string_view text);

// An ETag without its surrounding double quotes ("\"abc\"" → "abc"); unchanged otherwise.
std::string StripQuotes(std::string_view etag);

}  // namespace quarry
