// Compression: the codings Quarry recognises in objects, and their names.
//
// A plan records each object's compression in Partition::compression (decompress "auto"
// recognises them; compressed objects are never split, and their data streams yield the
// decoded bytes). The names are those the Python front end and the CLI show and read back.
#pragma once

#include <string_view>

namespace quarry {

enum class Compression { kNone, kGzip, kZstd, kBzip2 };

// "none", "gzip", "zstd" or "bzip2".
std::string_view CompressionName(Compression c);

// The compression that CompressionName calls `name`; kNone for any other name.
Compression CompressionFromName(std::string_view name);

}  // namespace quarry
