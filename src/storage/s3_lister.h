// Listing an S3 bucket: ListObjectsV2 page after page (continuation tokens hidden), keys sent
// and read back url-encoded so that any key survives the XML. Internal to the S3 backend.
#pragma once

#include <memory>
#include <string>

#include "quarry/object_store.h"
#include "storage/s3_request.h"

namespace quarry {

// A Lister of the keys of `bucket` under `prefix`, as ObjectStore::List promises: each Next()
// is one ListObjectsV2 request of options.page_size keys (after options.start_after, grouped
// by options.delimiter when given); false once the server says no page follows. A failed reply
// is the Status of S3Client::ErrorFor ("list", bucket, prefix); a reply that is not the XML of
// a listing is IoError naming the endpoint. Keeps `client` alive; one caller at a time.
std::unique_ptr<Lister> MakeS3Lister(std::shared_ptr<S3Client> client, std::string bucket,
                                     std::string prefix, ListOptions options);

}  // namespace quarry
