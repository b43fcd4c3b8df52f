// What the headers of a storage service's reply say about an object, and the Range header a
// read asks with: written once for the backends over HTTP (s3, az, gs). Pure functions.
// Internal to the storage backends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "quarry/object_store.h"

namespace quarry {

// "Wed, 21 Oct 2015 07:28:00 GMT" (an HTTP date) → "2015-10-21T07:28:00.000Z"; the text
// unchanged when it is not an HTTP date (also when it is empty).
std::string HttpDateToIso(std::string_view http_date);

// True when a read of `length` bytes from `offset` is a read of the whole object as far as the
// caller knows: from 0, and either to the end (length UINT64_MAX) or at least `object_size`
// bytes. Such a read asks without a Range header: RGW serves plain GETs of small objects about
// 20% faster than ranged ones, and the reply then holds the object's size as its length.
bool ReadsWholeObject(uint64_t offset, uint64_t length, std::optional<uint64_t> object_size);

// The value of a Range header for `length` (> 0) bytes from `offset`: "bytes=offset-last", or
// "bytes=offset-" (the rest of the object) when length is UINT64_MAX.
std::string ByteRangeHeader(uint64_t offset, uint64_t length);

// The object's size from a HEAD's or GET's reply: the total of Content-Range when the reply is
// partial ("bytes 0-99/12345"), else the header `length_header` (Content-Length unless a
// service stores the length under a name of its own); 0 when neither is a number.
uint64_t ObjectSizeFromHeaders(const http::HttpResponse& reply,
                               std::string_view length_header = "content-length");

// What a HEAD's or GET's reply says about the object `key`: its ETag (without quotes),
// Last-Modified (as ISO 8601, see HttpDateToIso), Content-Type, Content-Encoding and size (see
// ObjectSizeFromHeaders).
ObjectInfo InfoFromHeaders(std::string_view key, const http::HttpResponse& reply);

}  // namespace quarry
