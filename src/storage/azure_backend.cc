// The configuration of az:// (keys, secrets, the standard Azure environment variables),
// registered with the factory of azure_store.cc.
#include "storage/azure_store.h"

namespace quarry {

BackendSpec AzureBackendSpec() {
  BackendSpec spec;
  ConfigSpec& c = spec.config;
  c.scheme = "az";
  c.keys = {"account_name",
            "account_key",
            "sas_token",
            "connection_string",
            "endpoint",
            "tenant_id",
            "client_id",
            "client_secret",
            "authority_host",
            "verify_tls",
            "receive_in_place",
            "multipart_threshold",
            "part_size",
            "connect_timeout_ms",
            "read_timeout_ms",
            "max_attempts",
            "token_refresh_margin"};
  c.secret_keys = {"account_key", "sas_token", "connection_string", "client_secret", "token"};
  c.shipped_keys = {"token", "token_expiration"};
  c.environment = {{"AZURE_STORAGE_CONNECTION_STRING", "connection_string"},
                   {"AZURE_STORAGE_ACCOUNT", "account_name"},
                   {"AZURE_STORAGE_KEY", "account_key"},
                   {"AZURE_STORAGE_SAS_TOKEN", "sas_token"},
                   {"AZURE_TENANT_ID", "tenant_id"},
                   {"AZURE_CLIENT_ID", "client_id"},
                   {"AZURE_CLIENT_SECRET", "client_secret"},
                   {"AZURE_AUTHORITY_HOST", "authority_host"}};
  spec.make = [](const StorageOptions& options) { return MakeAzureStore(options); };
  spec.fetch_shippable_credentials = [](const StorageOptions& options) {
    return FetchAzureShippableCredentials(options);
  };
  return spec;
}

}  // namespace quarry
