// Parsers of the configuration files ResolveStorageOptions reads (quarry/config.h): Quarry's YAML
// config file and the INI files of the AWS tools. Internal to the library, pure functions of the
// text, so that tests and fuzzers can call them directly.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "quarry/config.h"
#include "quarry/status.h"

namespace quarry {

// Parses the YAML subset of the config file: a two-level mapping of scalars (top-level
// "scheme:" lines, indented "key: value" lines), '#' comment lines and " # comment" tails,
// "---", optional single or double quotes around a value, "\r\n" line ends. Keys and unquoted
// values are trimmed of white space. Fails with InvalidArgument naming `source` and the line for
// a line without ':', a top-level key with a value, or an indented key before any scheme.
Result<std::map<std::string, StorageOptions>> ParseConfigYaml(std::string_view text,
                                                              std::string_view source);

// Parses an INI file (~/.aws/credentials, ~/.aws/config): section → key → value, keys and values
// trimmed, "#" and ";" comment lines; keys before any [section] go to section "". Lines that are
// neither a section nor "key = value" are skipped; never fails.
std::map<std::string, StorageOptions> ParseIni(std::string_view text);

// The whole content of a configuration file, or nullopt when it cannot be opened.
std::optional<std::string> ReadConfigFile(const std::string& path);

}  // namespace quarry
