// Recognising and decoding compressed objects (gzip, zstd, bzip2).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "quarry/compression.h"
#include "quarry/status.h"

namespace quarry {

// By magic bytes: gzip 1f 8b, zstd 28 b5 2f fd, bzip2 "BZh1".."BZh9". kNone otherwise.
Compression CompressionFromMagic(std::string_view head);
// By key suffix: .gz .gzip, .zst .zstd, .bz2 .bzip2. kNone otherwise.
Compression CompressionFromSuffix(std::string_view key);
// By a Content-Encoding header: gzip/x-gzip and deflate (zlib; the gzip decoder reads both),
// zstd, bzip2/x-bzip2 (case-insensitive; of a list, the last coding applied). kNone otherwise
// (identity, aws-chunked, codings Quarry lacks).
Compression CompressionFromContentEncoding(std::string_view content_encoding);
// The object's compression: its magic bytes first, then the key's suffix, then Content-Encoding.
Compression DetectCompression(std::string_view head, std::string_view key,
                              std::string_view content_encoding);

// Incremental decoder: feed compressed bytes, get decompressed bytes. Handles concatenated
// members/frames/streams. Errors name `what` (the object's URI).
class Decoder {
 public:
  virtual ~Decoder() = default;
  // Appends the output of `input` to `out`.
  virtual Status Decode(std::string_view input, std::string* out) = 0;
  // Called at the end of input: fails if the compressed data was truncated.
  virtual Status Finish() = 0;
};

Result<std::unique_ptr<Decoder>> MakeDecoder(Compression c, std::string what);

}  // namespace quarry
