// Object URIs: `scheme://bucket/key`, `file:///abs/path`, and plain local paths.
#pragma once

#include <string>
#include <string_view>

#include "quarry/status.h"

namespace quarry {

// A parsed object URI. `key` is kept byte for byte as given (spaces, '+', '%', '//', unicode);
// no percent-decoding happens, so what is listed is what is read.
struct Uri {
  std::string scheme;  // lower case: "s3", "cos", "file", "mem", ... (quarry/registry.h)
  std::string bucket;  // empty for "file"
  std::string key;     // may be empty (whole bucket); for "file" the absolute path without '/'

  // The canonical text form: "s3://bucket/key", "file:///abs/path".
  std::string ToString() const;
  // The same URI with another key.
  Uri WithKey(std::string new_key) const;
  // True when the key is empty or ends with '/': names a prefix rather than one object.
  bool IsPrefix() const { return key.empty() || key.back() == '/'; }
};

// Parses `text`. Plain paths ("data/x.csv", "/tmp/x") become file URIs with an absolute path.
// Fails with InvalidArgument naming the input for malformed URIs ("s3:/", "s3://", "://x").
// Any well-formed scheme parses: whether a backend serves it is the registry's to say
// (quarry/registry.h), when a store is asked for.
Result<Uri> ParseUri(std::string_view text);

}  // namespace quarry
