// Reading the storage options of a backend (quarry/config.h resolves them; each backend reads
// its own): text, whole numbers in a range, yes/no flags, and the HTTP client's options that
// every backend over HTTP takes. A malformed value is InvalidArgument naming the option, the
// value and what is allowed; a key that is missing or empty means the fallback. Pure functions
// of the options. Internal to the storage backends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "quarry/config.h"
#include "quarry/status.h"

namespace quarry {

// The option's text; `fallback` when it is missing or empty.
std::string OptionText(const StorageOptions& options, const std::string& key,
                       const std::string& fallback = "");

// A whole number in [min, max]; `fallback` when unset. `unit` says what it counts, for the
// message ("milliseconds", "bytes per uploaded part (S3 allows 5 MiB to 5 GiB)").
Result<uint64_t> OptionCount(const StorageOptions& options, const std::string& key,
                             uint64_t fallback, uint64_t min, uint64_t max, std::string_view unit);

// A yes/no option: true/false, yes/no, on/off, 1/0 in any case; `fallback` when unset. Anything
// else is refused: a typo must not quietly mean yes.
Result<bool> OptionFlag(const StorageOptions& options, const std::string& key, bool fallback);

// The HTTP client's options: connect_timeout_ms (default 5000), read_timeout_ms (30000),
// max_attempts (5, from 1 to 100), verify_tls (true), receive_in_place (true), checked in that
// order. The retry rule (retryable_reply) is left to the backend.
Result<http::HttpClientOptions> HttpClientOptionsFrom(const StorageOptions& options);

// True for "localhost", bracketed IPv6 addresses and dotted numbers, with or without ":port":
// hosts of emulators and on-premises servers rather than of a cloud's DNS.
bool IsIpOrLocalHost(std::string_view host);

}  // namespace quarry
