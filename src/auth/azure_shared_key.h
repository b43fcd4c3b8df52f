// Azure Storage request authorisation: Shared Key signing (HMAC-SHA256 with the account key over
// a canonical form of the request), service SAS tokens for one blob, and SAS tokens given by the
// user (appended to the query as they are).
//
// Like the SigV4 signer, everything here is pure (no I/O, no clock of its own) so that it can be
// checked against strings computed independently. Account keys and SAS signatures never leave
// this module except as a derived signature or inside the URL or header they belong to.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/status.h"

namespace quarry::auth {

// What Shared Key signing needs to know about a Blob service request.
struct AzureSignableRequest {
  std::string method;  // "GET", "PUT", ...
  // The path exactly as sent on the wire, percent-encoded, including any path prefix of the
  // endpoint: "/devstoreaccount1/container/a%20b" on Azurite, "/container/a%20b" on Azure.
  std::string encoded_path;
  // Query parameters, NOT encoded ("restype"="container", "blockid"="YmxvY2s=").
  std::vector<std::pair<std::string, std::string>> query;
  // Every header sent apart from Authorization; names in any case. The standard ones
  // (Content-Type, If-Match, ...) and every x-ms-* header are signed, others are not.
  std::vector<std::pair<std::string, std::string>> headers;
  // The body's length; 0 for requests without a body (an empty length line in the signature).
  uint64_t content_length = 0;
};

// Standard base64 (with '=' padding).
std::string Base64Encode(std::string_view data);
// Decodes standard base64 ("" gives ""); InvalidArgument for text that is not (without quoting
// it: the text is usually a secret).
Result<std::string> Base64Decode(std::string_view text);

// "Sun, 11 Oct 2009 21:49:13 GMT" (RFC 1123, the form of x-ms-date) for a UTC time.
std::string AzureDate(std::time_t t);

// The string Shared Key signs for `request` on behalf of `account`:
//   VERB, Content-Encoding, Content-Language, Content-Length (empty when 0), Content-MD5,
//   Content-Type, Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range,
// each on its own line, then the x-ms-* headers as "name:value" lines (names in lower case, in
// byte order), then the canonicalised resource: "/" + account + encoded_path, and for each query
// parameter in order of its lower-case name "\nname:value" (values of repeated names joined by
// ',', in byte order).
std::string SharedKeyStringToSign(const AzureSignableRequest& request, std::string_view account);

// The value of the Authorization header: "SharedKey account:signature", the signature being the
// base64 HMAC-SHA256 of SharedKeyStringToSign with `decoded_key` (the account key after
// Base64Decode). Returns "" only if OpenSSL fails (out of memory).
std::string SharedKeyAuthorization(const AzureSignableRequest& request, std::string_view account,
                                   std::string_view decoded_key);

// A SAS token as the user gave it ("?sv=...&sig=..." or "sv=...&sig=..."), without its leading
// '?' and surrounding white space, ready to be put after a URL's '?' or '&'.
std::string NormalizeSasToken(std::string_view token);

// What a service SAS for one blob grants.
struct BlobSasRequest {
  std::string account;
  std::string container;
  std::string blob;         // the blob's name, not encoded
  std::string permissions;  // "r" to read
  std::time_t expiry = 0;   // UTC
  std::string version = "2021-08-06";
};

// The query string of a service SAS for one blob ("sv=...&sr=b&sp=r&se=...&sig=..."), signed with
// `decoded_key`. Returns "" only if OpenSSL fails.
std::string BlobServiceSas(const BlobSasRequest& request, std::string_view decoded_key);

}  // namespace quarry::auth
