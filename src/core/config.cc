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

const StorageOptions& StorageOptionsOf(const StorageOptionsByScheme& by_scheme,
                                       std::string_view scheme) {
  static const StorageOptions kNone;
  auto found = by_scheme.find(scheme);
  return found == by_scheme.end() ? kNone : found->second;
}

bool IsSecretKey(std::string_view key) {
  for (std::string_view word : {"secret", "token", "password", "sas", "connection_string"}) {
    if (key.find(word) != std::string_view::npos) return true;
  }
  return key.ends_with("_key");
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

std::optional<std::string> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
Status CheckOptionKeys(const ConfigSpec& spec, const StorageOptions& options,
                       const std::string& what, bool shipped_allowed) {
  for (const auto& entry : options) {
    const std::string& key = entry.first;
    const auto is_key = [&key](const std::string& k) { return k == key; };
    if (std::any_of(spec.keys.begin(), spec.keys.end(), is_key)) continue;
    if (shipped_allowed &&
        std::any_of(spec.shipped_keys.begin(), spec.shipped_keys.end(), is_key)) {
      continue;
    }
    std::string message = "unknown ";
    message += what;
    message += " '";
    message += key;
    message += "' for ";
    message += spec.scheme;
    if (auto closest = ClosestKey(key, spec.keys); !closest.empty()) {
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

std::string_view ClosestKey(std::string_view key, const std::vector<std::string>& known) {
  std::string_view closest;
  size_t best = 3;  // suggest only near misses
  for (const auto& k : known) {
    if (size_t d = EditDistance(key, k); d < best) {
      best = d;
      closest = k;
    }
  }
  return closest;
}

Result<StorageOptions> ResolveConfig(const ConfigSpec& spec, const StorageOptions& explicit_options,
                                     const ConfigEnvironment& env) {
  StorageOptions out = explicit_options;
  const std::string env_prefix = "QUARRY_" + Upper(spec.scheme) + "_";

  QUARRY_RETURN_IF_ERROR(CheckOptionKeys(spec, explicit_options, "storage option", true));

  // 2. Environment. QUARRY_<SCHEME>_<KEY>: we cannot enumerate the environment portably through
  // the injected getenv, so probe the known keys; then the service's standard variables.
  for (const auto& key : spec.keys) {
    if (out.count(key)) continue;
    if (auto v = env.getenv(env_prefix + Upper(key)); v && !v->empty()) out[key] = *v;
  }
  for (const auto& [variable, key] : spec.environment) {
    if (out.count(key)) continue;
    if (auto v = env.getenv(variable); v && !v->empty()) out[key] = *v;
  }

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
    auto text = ReadConfigFile(path);
    if (!text && explicit_path) {
      return InvalidArgument("config file '" + path +
                             "' (from QUARRY_CONFIG) cannot be read: fix the path or unset it");
    }
    if (text) {
      QUARRY_ASSIGN_OR_RETURN(auto parsed, ParseConfigYaml(*text, path));
      if (auto it = parsed.find(spec.scheme); it != parsed.end()) {
        QUARRY_RETURN_IF_ERROR(
            CheckOptionKeys(spec, it->second, "key in config file '" + path + "'", false));
        for (const auto& [k, v] : it->second) out.emplace(k, v);
      }
    }
  }

  // 4. The service's own defaults.
  if (spec.defaults) spec.defaults(env, &out);
  return out;
}

}  // namespace quarry
