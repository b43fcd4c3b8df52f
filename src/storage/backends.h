// The built-in backends: their specs (registered by quarry/registry.h before any lookup) and
// factories. Callers normally go through the registry.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/registry.h"

namespace quarry {

// S3-compatible services: AWS S3, IBM COS (scheme "cos"), Ceph RGW, MinIO.
// Options: endpoint, region, access_key_id, secret_access_key, session_token, addressing_style
// (auto|path|virtual), verify_tls, receive_in_place (GET bodies straight from the socket into
// the reader's buffers; "false" sends them through libcurl's buffer), multipart_threshold,
// part_size, connect_timeout_ms, read_timeout_ms, max_attempts. Fails with InvalidArgument on a
// malformed option, naming it.
Result<std::shared_ptr<ObjectStore>> MakeS3Store(std::string_view scheme,
                                                 const StorageOptions& options);

// Resolves the credential of an s3/cos configuration now (one token exchange for IAM or STS,
// none for static keys) and returns the options with it added, ready to ship to workers whose
// stores then start from it instead of exchanging again.
Result<StorageOptions> FetchShippableCredentials(std::string_view scheme,
                                                 const StorageOptions& options);

// The spec of an S3-compatible scheme ("s3" or "cos"): its keys (those of MakeS3Store, IBM IAM's
// api_key / iam_endpoint / service_instance_id, STS's role_arn / sts_endpoint /
// role_session_name / duration_seconds / use_session_token, token_refresh_margin, profile);
// for "s3" also the standard AWS variables and the ~/.aws profile files.
BackendSpec S3BackendSpec(std::string scheme);

// The specs of file:// and mem://, which take no configuration.
BackendSpec FileBackendSpec();
BackendSpec MemBackendSpec();

// Local files. Keys are absolute paths without the leading '/'; buckets are not used.
std::shared_ptr<ObjectStore> MakeFileStore();

// Process-wide in-memory store: every MakeMemStore() shares the same buckets.
std::shared_ptr<ObjectStore> MakeMemStore();

}  // namespace quarry
