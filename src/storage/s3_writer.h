// Writing S3 objects: one PUT below multipart_threshold, a multipart upload from it up (parts
// of part_size, a few in flight while the caller writes, bounded memory, aborted on failure).
// Internal to the S3 backend.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "quarry/object_store.h"
#include "storage/s3_request.h"

namespace quarry {

// An ObjectWriter of bucket/key with the client's part_size and multipart_threshold, as
// ObjectStore::OpenWriter promises: nothing is visible under the key before Close() succeeds;
// a writer closed after a failure, or destroyed without Close(), aborts its multipart upload.
// Write() may send whole parts straight from the caller's memory and returns only when no part
// in flight reads it. Errors are the Status of S3Client::ErrorFor naming the step ("start
// upload", "upload part", "complete upload", "write"). Keeps `client` alive.
std::unique_ptr<ObjectWriter> MakeS3Writer(std::shared_ptr<S3Client> client, std::string bucket,
                                           std::string key, PutOptions options);

// One PUT of a whole object with the metadata of `options`; ErrorFor("write", ...) when the
// reply is not 200.
Status S3PutObject(S3Client& client, std::string_view bucket, std::string_view key,
                   std::string_view data, const PutOptions& options);

}  // namespace quarry
