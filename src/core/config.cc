#include "quarry/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "core/config_files.h"

namespace quarry {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Strips a trailing " # comment" outside quotes and surrounding quotes of a scalar.
std::string YamlScalar(std::string_view raw) {
  std::string v = Trim(raw);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) {
    char q = v.front();
    auto end = v.find(q, 1);
    if (end != std::string::npos) return v.substr(1, end - 1);
  }
  auto hash = v.find(" #");
  if (hash != std::string::npos) v = Trim(v.substr(0, hash));
  return v;
}

// The keys every scheme shares with the standard AWS variables.
void AddAwsEnvironment(const ConfigEnvironment& env, StorageOptions* out) {
  auto set_from = [&](const char* var, const char* key) {
    if (out->count(key)) return;
    if (auto v = env.getenv(var); v && !v->empty()) (*out)[key] = *v;
  };
  set_from("AWS_ACCESS_KEY_ID", "access_key_id");
  set_from("AWS_SECRET_ACCESS_KEY", "secret_access_key");
  set_from("AWS_SESSION_TOKEN", "session_token");
  set_from("AWS_REGION", "region");
  set_from("AWS_DEFAULT_REGION", "region");
  set_from("AWS_ENDPOINT_URL_S3", "endpoint");
  set_from("AWS_ENDPOINT_URL", "endpoint");
}

void AddAwsProfile(const ConfigEnvironment& env, StorageOptions* out) {
  std::string profile = env.getenv("AWS_PROFILE").value_or("");
  if (profile.empty()) profile = "default";
  auto path_of = [&](const char* var, const char* fallback) -> std::string {
    if (auto v = env.getenv(var); v && !v->empty()) return *v;
    if (env.home.empty()) return {};
    return env.home + "/.aws/" + fallback;
  };
  auto merge = [&](const std::string& path, const std::string& section) {
    if (path.empty()) return;
    auto text = ReadFile(path);
    if (!text) return;
    auto ini = ParseIni(*text);
    auto it = ini.find(section);
    if (it == ini.end()) return;
    for (const auto& [k, v] : it->second) {
      std::string key = k;
      if (key == "aws_access_key_id") key = "access_key_id";
      if (key == "aws_secret_access_key") key = "secret_access_key";
      if (key == "aws_session_token") key = "session_token";
      if (key == "endpoint_url") key = "endpoint";
      if (!out->count(key)) (*out)[key] = v;
    }
  };
  merge(path_of("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile);
  // ~/.aws/config names non-default profiles "profile NAME".
  merge(path_of("AWS_CONFIG_FILE", "config"),
        profile == "default" ? profile : "profile " + profile);
}

}  // namespace

ConfigEnvironment ConfigEnvironment::Process() {
  ConfigEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  if (const char* h = std::getenv("HOME")) env.home = h;
  std::error_code ec;
  env.cwd = std::filesystem::current_path(ec).string();
  return env;
}

bool IsSecretKey(std::string_view key) {
  static constexpr std::string_view kSecrets[] = {"secret_access_key",
                                                  "session_token",
                                                  "api_key",
                                                  "account_key",
                                                  "sas_token",
                                                  "token",
                                                  "password",
                                                  "access_token",
                                                  "private_key",
                                                  "token_secret_access_key",
                                                  "token_session_token"};
  return std::any_of(std::begin(kSecrets), std::end(kSecrets),
                     [&](std::string_view s) { return s == key; });
}

std::string RedactedString(const StorageOptions& options) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : options) {
    if (!first) out += ", ";
    first = false;
    out += k + "=" + (IsSecretKey(k) ? std::string("***") : v);
  }
  return out + "}";
}

Result<std::map<std::string, StorageOptions>> ParseConfigYaml(std::string_view text,
                                                              std::string_view source) {
  std::map<std::string, StorageOptions> out;
  std::string section;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#' || trimmed == "---") continue;
    auto colon = trimmed.find(':');
    if (colon == std::string::npos) {
      return InvalidArgument("config file '" + std::string(source) + "' line " +
                             std::to_string(line_no) + ": expected 'key: value'");
    }
    bool indented = std::isspace(static_cast<unsigned char>(line[0]));
    std::string key = Trim(trimmed.substr(0, colon));
    std::string value = YamlScalar(trimmed.substr(colon + 1));
    if (!indented) {
      if (!value.empty()) {
        return InvalidArgument("config file '" + std::string(source) + "' line " +
                               std::to_string(line_no) + ": top-level keys are schemes (s3:, " +
                               "cos:, ...) holding 'key: value' lines");
      }
      section = key;
      out[section];
    } else {
      if (section.empty()) {
        return InvalidArgument("config file '" + std::string(source) + "' line " +
                               std::to_string(line_no) + ": indented key outside a scheme");
      }
      out[section][key] = value;
    }
  }
  return out;
}

std::map<std::string, StorageOptions> ParseIni(std::string_view text) {
  std::map<std::string, StorageOptions> out;
  std::string section;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = Trim(t.substr(1, t.size() - 2));
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    out[section][Trim(t.substr(0, eq))] = Trim(t.substr(eq + 1));
  }
  return out;
}

namespace {

// Every key a storage option may have (for any scheme).
constexpr std::string_view kKnownKeys[] = {"endpoint",
                                           "region",
                                           "access_key_id",
                                           "secret_access_key",
                                           "session_token",
                                           "addressing_style",
                                           "role_arn",
                                           "role_session_name",
                                           "sts_endpoint",
                                           "verify_tls",
                                           "receive_in_place",
                                           "api_key",
                                           "iam_endpoint",
                                           "credentials_path",
                                           "anonymous",
                                           "account_name",
                                           "account_key",
                                           "sas_token",
                                           "multipart_threshold",
                                           "part_size",
                                           "connect_timeout_ms",
                                           "read_timeout_ms",
                                           "max_attempts",
                                           "profile",
                                           "service_instance_id",
                                           "use_session_token",
                                           "duration_seconds",
                                           "token_refresh_margin"};

// Keys the driver adds when it hands resolved credentials to workers.
constexpr std::string_view kResolvedKeys[] = {"token", "token_access_key_id",
                                              "token_secret_access_key", "token_session_token",
                                              "token_expiration"};

// Edits between two short strings (for "did you mean").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// An unknown key is a typo far more often than a wish: InvalidArgument naming it, the closest
// known key, and where the list is.
Status CheckOptionKeys(std::string_view scheme, const StorageOptions& options,
                       const std::string& what) {
  for (const auto& entry : options) {
    const std::string& key = entry.first;
    const auto known = [&key](std::string_view k) { return k == key; };
    if (std::any_of(std::begin(kKnownKeys), std::end(kKnownKeys), known) ||
        std::any_of(std::begin(kResolvedKeys), std::end(kResolvedKeys), known)) {
      continue;
    }
    std::string_view closest;
    size_t best = 3;  // suggest only near misses
    for (auto k : kKnownKeys) {
      if (size_t d = EditDistance(key, k); d < best) {
        best = d;
        closest = k;
      }
    }
    std::string message = "unknown ";
    message += what;
    message += " '";
    message += key;
    message += "' for ";
    message += scheme;
    if (!closest.empty()) {
      message += ": did you mean '";
      message += closest;
      message += "'?";
    }
    message += " (the README's Configuration section lists them)";
    return InvalidArgument(message);
  }
  return Status::Ok();
}

}  // namespace

Result<StorageOptions> ResolveStorageOptions(std::string_view scheme,
                                             const StorageOptions& explicit_options,
                                             const ConfigEnvironment& env) {
  StorageOptions out = explicit_options;
  const std::string scheme_str(scheme);
  const std::string env_prefix = "QUARRY_" + Upper(scheme) + "_";

  QUARRY_RETURN_IF_ERROR(CheckOptionKeys(scheme, explicit_options, "storage option"));

  // 2. Environment. QUARRY_<SCHEME>_<KEY>: we cannot enumerate the environment portably through
  // the injected getenv, so probe the known keys.
  for (auto key : kKnownKeys) {
    std::string k(key);
    if (out.count(k)) continue;
    if (auto v = env.getenv(env_prefix + Upper(k)); v && !v->empty()) out[k] = *v;
  }
  if (scheme == "s3") AddAwsEnvironment(env, &out);

  // 3. Config file.
  std::string path;
  bool explicit_path = false;
  if (auto v = env.getenv("QUARRY_CONFIG"); v && !v->empty()) {
    path = *v;
    explicit_path = true;
  } else if (!env.cwd.empty() && std::filesystem::exists(env.cwd + "/quarry.yaml")) {
    path = env.cwd + "/quarry.yaml";
  } else if (!env.home.empty()) {
    path = env.home + "/.config/quarry/config.yaml";
  }
  if (!path.empty()) {
    auto text = ReadFile(path);
    if (!text && explicit_path) {
      return InvalidArgument("config file '" + path +
                             "' (from QUARRY_CONFIG) cannot be read: fix the path or unset it");
    }
    if (text) {
      QUARRY_ASSIGN_OR_RETURN(auto parsed, ParseConfigYaml(*text, path));
      if (auto it = parsed.find(scheme_str); it != parsed.end()) {
        QUARRY_RETURN_IF_ERROR(
            CheckOptionKeys(scheme, it->second, "key in config file '" + path + "'"));
        for (const auto& [k, v] : it->second) out.emplace(k, v);
      }
    }
  }

  // 4. Scheme defaults.
  if (scheme == "s3") AddAwsProfile(env, &out);
  return out;
}

}  // namespace quarry
