// libFuzzer target: the config file parsers, ParseConfigYaml (Quarry's config file) and ParseIni
// (~/.aws/credentials, ~/.aws/config). Byte 0 picks the parser; the rest is the file.
// Properties: nothing crashes; keys and values come out trimmed, keys without the separator;
// a YAML failure is InvalidArgument naming the file and a line that exists; and what was parsed,
// written back as such a file, parses to the same result.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "core/config_files.h"

namespace {

using Sections = std::map<std::string, quarry::StorageOptions>;

bool Trimmed(std::string_view s) {
  return s.empty() || (!std::isspace(static_cast<unsigned char>(s.front())) &&
                       !std::isspace(static_cast<unsigned char>(s.back())));
}

size_t Lines(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

// A YAML scalar that reads back as `value`: quoted with a quote it does not hold, else bare (a
// parsed value holds both quotes only if it was bare, and then it reads back bare).
std::string YamlValue(const std::string& value) {
  if (value.find('\'') == std::string::npos) return "'" + value + "'";
  if (value.find('"') == std::string::npos) return "\"" + value + "\"";
  return value;
}

void CheckYaml(std::string_view text) {
  auto parsed = quarry::ParseConfigYaml(text, "fuzz.yaml");
  if (!parsed.ok()) {
    if (parsed.status().code() != quarry::StatusCode::kInvalidArgument) abort();
    const std::string& m = parsed.status().message();
    const std::string prefix = "config file 'fuzz.yaml' line ";
    if (m.rfind(prefix, 0) != 0) abort();
    const unsigned long line = std::strtoul(m.c_str() + prefix.size(), nullptr, 10);
    if (line < 1 || line > Lines(text)) abort();
    return;
  }
  std::string written;
  for (const auto& [scheme, options] : *parsed) {
    if (!Trimmed(scheme) || scheme.find(':') != std::string::npos) abort();
    written += scheme + ":\n";
    for (const auto& [key, value] : options) {
      if (!Trimmed(key) || key.find(':') != std::string::npos) abort();
      written += "  " + key + ": " + YamlValue(value) + "\n";
    }
  }
  auto again = quarry::ParseConfigYaml(written, "written.yaml");
  if (!again.ok() || *again != *parsed) abort();
}

void CheckIni(std::string_view text) {
  const Sections parsed = quarry::ParseIni(text);
  std::string written;
  auto write_options = [&](const quarry::StorageOptions& options) {
    for (const auto& [key, value] : options) {
      if (!Trimmed(key) || !Trimmed(value) || key.find('=') != std::string::npos) abort();
      written.append(key).append(" = ").append(value).append("\n");
    }
  };
  // Keys before any [section] are section ""; they must come first.
  if (auto it = parsed.find(""); it != parsed.end()) write_options(it->second);
  for (const auto& [section, options] : parsed) {
    if (!Trimmed(section)) abort();
    if (section.empty()) continue;
    written.append("[").append(section).append("]\n");
    write_options(options);
  }
  if (quarry::ParseIni(written) != parsed) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(bytes + 1), size - 1);
  if ((bytes[0] & 1) == 0) {
    CheckYaml(text);
  } else {
    CheckIni(text);
  }
  return 0;
}
