// Azure Blob Storage backend (scheme "az": az://container/blob) over the Blob service REST API,
// with Shared Key, SAS or Azure AD bearer authorisation, on the shared HttpClient and its retry
// policy. Also serves emulators (Azurite) on path-style endpoints
// (http://127.0.0.1:10000/devstoreaccount1).
//
// Options (keys of AzureBackendSpec): account_name, account_key, sas_token, connection_string
// (AccountName, AccountKey, BlobEndpoint, DefaultEndpointsProtocol, EndpointSuffix,
// SharedAccessSignature, UseDevelopmentStorage), endpoint, tenant_id + client_id + client_secret
// (+ authority_host) for Azure AD, verify_tls, receive_in_place, part_size, multipart_threshold,
// connect_timeout_ms, read_timeout_ms, max_attempts, token_refresh_margin. Keys given on their
// own win over the fields of a connection string. Authorisation, first that applies: Azure AD
// client credentials, a SAS token, the account key, else anonymous.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/registry.h"

namespace quarry {

// Makes an az store from resolved options. InvalidArgument naming the option for a malformed one
// (an account key that is not base64, an endpoint without http(s)://, a shared key without an
// account name, ...). No request is sent.
Result<std::shared_ptr<ObjectStore>> MakeAzureStore(const StorageOptions& options);

// Makes the Azure AD token exchange of the options now, when they ask for one, and returns them
// with the token added (token, token_expiration) for shipping to workers; otherwise the options
// unchanged.
Result<StorageOptions> FetchAzureShippableCredentials(const StorageOptions& options);

// The spec of "az": the keys above, the standard variables AZURE_STORAGE_CONNECTION_STRING,
// AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST.
BackendSpec AzureBackendSpec();

// The fields of a connection string "Key=Value;Key=Value;..." by key as written. A value may hold
// '='. InvalidArgument naming the offending part (never its value: fields are secrets) when a
// part has no '='.
Result<std::map<std::string, std::string>> ParseAzureConnectionString(std::string_view text);

// One page of a List Blobs reply (<EnumerationResults>).
struct BlobListPage {
  ListPage page;  // blobs (key, size, etag, last_modified as ISO-8601, content type/encoding)
                  // and <BlobPrefix> names
  std::string next_marker;  // empty on the last page
};

// Parses a List Blobs reply. Names marked Encoded="true" are percent-decoded. IoError with the
// XML parser's description when the body is not well-formed XML.
Result<BlobListPage> ParseBlobList(std::string_view body);

}  // namespace quarry
