// libFuzzer target: ParseUri on arbitrary text.
// Properties: a parsed URI's canonical text parses back to the same URI and prints the same
// text again; a failure is InvalidArgument with a message that quotes the input; the scheme is
// well formed and in lower case (which schemes have a backend is the registry's to say);
// object-store URIs have a bucket and keep the key byte for byte, file URIs have no bucket.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "quarry/uri.h"

namespace {

bool IsWellFormedScheme(std::string_view s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto uri = quarry::ParseUri(text);
  if (!uri.ok()) {
    if (uri.status().code() != quarry::StatusCode::kInvalidArgument) abort();
    if (uri.status().message().empty()) abort();
    return 0;
  }
  if (!IsWellFormedScheme(uri->scheme)) abort();
  if (uri->scheme == "file" ? !uri->bucket.empty() : uri->bucket.empty()) abort();
  if (uri->scheme != "file") {
    // scheme://bucket[/key], the key byte for byte as given.
    if (uri->bucket.find('/') != std::string::npos) abort();
    const std::string tail = uri->bucket + (uri->key.empty() ? "" : "/" + uri->key);
    if (!text.ends_with(tail) && !text.ends_with(tail + "/")) abort();
  }
  const std::string printed = uri->ToString();
  auto again = quarry::ParseUri(printed);
  if (!again.ok()) abort();
  if (again->scheme != uri->scheme || again->bucket != uri->bucket || again->key != uri->key) {
    abort();
  }
  if (again->ToString() != printed) abort();
  if (again->IsPrefix() != uri->IsPrefix()) abort();
  // WithKey keeps scheme and bucket and the key byte for byte.
  const quarry::Uri moved = uri->WithKey(std::string(text));
  if (moved.scheme != uri->scheme || moved.bucket != uri->bucket || moved.key != text) abort();
  return 0;
}
