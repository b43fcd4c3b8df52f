// Azure AD (Microsoft Entra ID) client-credentials tokens for Azure Storage: a tenant, a client
// id and its secret become a bearer token for https://storage.azure.com/, through the tenant's
// OAuth2 token endpoint. Wrapped in a TokenCache (auth/credentials.h) like every exchanged
// credential: fetched once per job on the driver, refreshed before expiry, single flight.
#pragma once

#include <memory>
#include <string>

#include "auth/credentials.h"

namespace quarry::auth {

// The provider for `tenant_id` / `client_id` / `client_secret` at `authority_host`
// ("https://login.microsoftonline.com" unless given; tests point it at a stand-in). Each Fetch()
// is one POST of grant_type=client_credentials to <authority_host>/<tenant_id>/oauth2/v2.0/token
// and counts as a credential fetch; a rejected secret is PermissionDenied naming the tenant, the
// client id and the endpoint, never the secret. `http` must outlive the provider.
std::unique_ptr<CredentialProvider> MakeAzureAdProvider(std::string tenant_id,
                                                        std::string client_id,
                                                        std::string client_secret,
                                                        std::string authority_host,
                                                        http::HttpClient* http);

}  // namespace quarry::auth
