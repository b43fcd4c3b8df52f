// Google Cloud Storage (scheme "gs"), over its JSON API and the shared HttpClient.
//
// Objects' ETags are their generations: reads pinned to one (ReadOptions::if_match) send
// ifGenerationMatch and also check the generation the reply carries, so a changed object fails
// the read with PreconditionFailed. Small objects go up in one multipart upload, larger ones in
// a resumable upload of part_size chunks (multiples of 256 KiB). Callers normally go through
// the registry (quarry/registry.h).
#pragma once

#include <memory>
#include <string_view>

#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/registry.h"

namespace quarry {

// Options: endpoint (default https://storage.googleapis.com; "host:port" without a scheme means
// http:// for IPs and localhost, as STORAGE_EMULATOR_HOST is written), project (for listing and
// creating buckets), credentials_path (a service account key or an authorized user's file),
// token (a bearer token given as it is), anonymous (true: no credentials at all), verify_tls,
// receive_in_place, multipart_threshold, part_size, connect_timeout_ms, read_timeout_ms,
// max_attempts, token_refresh_margin (seconds). Fails with InvalidArgument on a malformed option,
// naming it.
Result<std::shared_ptr<ObjectStore>> MakeGcsStore(const StorageOptions& options);

// Makes the OAuth2 exchange of a credentials_path configuration now (none for a given token or
// anonymous access) and returns the options with the access token added (oauth_token,
// oauth_token_expiration), ready to ship to workers whose stores start from it.
Result<StorageOptions> FetchGcsShippableCredentials(const StorageOptions& options);

// The spec of "gs": the keys above; STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS and
// GOOGLE_CLOUD_PROJECT; for Google's own endpoint, gcloud's application default credentials
// (~/.config/gcloud/application_default_credentials.json) when no credential is configured.
BackendSpec GcsBackendSpec();

// Copies an object within the service (the rewrite call, repeated until done): no bytes pass
// through this process. `store` must be a gs store. NotFound when the source is missing.
Status GcsRewriteObject(ObjectStore& store, std::string_view src_bucket, std::string_view src_key,
                        std::string_view dst_bucket, std::string_view dst_key);

}  // namespace quarry
