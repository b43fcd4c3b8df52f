// The `quarry` command-line tool: storage work from the shell (ls, stat, cat, cp, rm, mb, rb).
//
// Exit codes: 0 success, 1 an error (one line on stderr saying what failed), 2 a usage error.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "quarry/data_stream.h"
#include "quarry/key_rules.h"
#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/parallel_for.h"
#include "quarry/plan.h"
#include "quarry/registry.h"
#include "quarry/uri.h"

namespace quarry {
namespace {

using json = nlohmann::json;

struct Target {
  Uri uri;
  std::shared_ptr<ObjectStore> store;
};

Result<Target> Open(const std::string& text) {
  QUARRY_ASSIGN_OR_RETURN(auto uri, ParseUri(text));
  QUARRY_ASSIGN_OR_RETURN(auto store, StoreForUri(uri));
  return Target{std::move(uri), std::move(store)};
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json ObjectJson(const Uri& base, const ObjectInfo& o) {
  return json{{"uri", base.WithKey(o.key).ToString()},
              {"key", o.key},
              {"size", o.size},
              {"etag", o.etag},
              {"last_modified", o.last_modified}};
}

Status WriteStdout(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(std::string("writing to standard output: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// "2026-11-27T10:14:47.000Z" → "2026-11-27 10:14:47", as `ls` shows times.
std::string ListingTime(const std::string& iso) {
  std::string when = iso.substr(0, 19);
  if (when.size() > 10) when[10] = ' ';
  return when;
}

// `quarry ls s3://`: the buckets, like `aws s3 ls`.
Status CmdListBuckets(const std::string& scheme, bool as_json) {
  Uri service;
  service.scheme = scheme;
  QUARRY_ASSIGN_OR_RETURN(auto store, StoreForUri(service));
  QUARRY_ASSIGN_OR_RETURN(auto buckets, store->ListBuckets());
  std::string out;
  for (const auto& b : buckets) {
    if (as_json) {
      out += Dump(json{{"uri", scheme + "://" + b.name + "/"},
                       {"bucket", b.name},
                       {"creation_date", b.creation_date}});
    } else {
      const std::string when = ListingTime(b.creation_date);
      out += (when.empty() ? std::string(19, ' ') : when) + " " + EscapeForText(b.name);
    }
    out += '\n';
  }
  return WriteStdout(out);
}

Status CmdLs(const std::string& text, bool recursive, bool as_json) {
  if (text.size() > 3 && text.ends_with("://")) {
    return CmdListBuckets(text.substr(0, text.size() - 3), as_json);
  }
  QUARRY_ASSIGN_OR_RETURN(auto t, Open(text));
  // What the URI names (quarry/key_rules.h): an object, or a prefix; never sibling keys. A
  // recursive listing fans out over sub-prefixes (same keys, same order).
  QUARRY_ASSIGN_OR_RETURN(auto lister, ListSelected(*t.store, t.uri.bucket, t.uri.key, recursive));
  ListPage page;
  std::string out;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    if (!more) break;
    out.clear();
    for (const auto& p : page.common_prefixes) {
      if (as_json) {
        out += Dump(json{{"uri", t.uri.WithKey(p).ToString()}, {"key", p}, {"dir", true}});
      } else {
        out += "                           PRE " + EscapeForText(p);
      }
      out += '\n';
    }
    for (const auto& o : page.objects) {
      if (as_json) {
        out += Dump(ObjectJson(t.uri, o));
      } else {
        char size[32];
        std::snprintf(size, sizeof size, "%12llu", static_cast<unsigned long long>(o.size));
        out += ListingTime(o.last_modified) + " " + size + " " + EscapeForText(o.key);
      }
      out += '\n';
    }
    QUARRY_RETURN_IF_ERROR(WriteStdout(out));
  }
  return Status::Ok();
}

Status CmdStat(const std::string& text, bool as_json) {
  QUARRY_ASSIGN_OR_RETURN(auto t, Open(text));
  QUARRY_ASSIGN_OR_RETURN(auto info, t.store->Head(t.uri.bucket, t.uri.key));
  if (as_json) {
    json j = ObjectJson(t.uri, info);
    j["content_type"] = info.content_type;
    j["content_encoding"] = info.content_encoding;
    return WriteStdout(Dump(j) + "\n");
  }
  // Text output is one field a line: keys and metadata are made printable.
  std::string out = "uri: " + EscapeForText(t.uri.ToString()) +
                    "\nsize: " + std::to_string(info.size) + "\netag: " + EscapeForText(info.etag) +
                    "\nlast_modified: " + EscapeForText(info.last_modified) + "\n";
  if (!info.content_type.empty()) out += "content_type: " + EscapeForText(info.content_type) + "\n";
  if (!info.content_encoding.empty()) {
    out += "content_encoding: " + EscapeForText(info.content_encoding) + "\n";
  }
  return WriteStdout(out);
}

// "A-B" (inclusive, as in HTTP), "A-" (to the end) or "-N" (the last N bytes).
Result<std::pair<uint64_t, uint64_t>> ParseRange(const std::string& text, uint64_t size) {
  auto dash = text.find('-');
  auto bad = [&] {
    return InvalidArgument("range '" + text + "' is not A-B, A- or -N (byte offsets, B inclusive)");
  };
  if (dash == std::string::npos) return bad();
  try {
    std::string a = text.substr(0, dash), b = text.substr(dash + 1);
    if (a.empty()) {
      if (b.empty()) return bad();
      uint64_t n = std::stoull(b);
      n = std::min(n, size);
      return std::make_pair(size - n, n);
    }
    uint64_t start = std::stoull(a);
    if (b.empty()) return std::make_pair(start, start >= size ? 0 : size - start);
    uint64_t end = std::stoull(b);
    if (end < start) return bad();
    if (start >= size) return std::make_pair(start, uint64_t{0});
    return std::make_pair(start, std::min(end, size - 1) - start + 1);
  } catch (const std::exception&) {
    return bad();
  }
}

// Tuning of large reads, shared by cat and cp.
struct TransferFlags {
  int parallel = 4;
  uint64_t part_mib = 0;  // 0: the default, 8 MiB
  ParallelReadOptions Options(const std::string& etag) const {
    ParallelReadOptions o;
    o.part_size = (part_mib > 0 ? part_mib : 8) << 20;
    o.max_in_flight = parallel;
    o.read.if_match = etag;
    return o;
  }
  // Reads that go straight to their place in a file hold no buffers, so by default they are
  // larger: every request costs the server work, and bytes per request are free here. Still
  // small enough that `parallel` of them share the range.
  ParallelReadOptions PositionedOptions(const std::string& etag, uint64_t length) const {
    ParallelReadOptions o = Options(etag);
    if (part_mib == 0) {
      const uint64_t share = length / static_cast<uint64_t>(std::max(1, parallel));
      o.part_size = std::clamp<uint64_t>(share, 8ull << 20, 32ull << 20);
    }
    return o;
  }
};

TransferFlags g_transfer;

// Standard output when bytes can go to any position of it: a regular file or a block device not
// opened for appending, or /dev/null. Then the current offset there.
struct PositionedOutput {
  uint64_t base;
  bool truncate_on_error;  // a regular file that ends where we start writing
};

std::optional<PositionedOutput> PositionedStdout() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) != 0) return std::nullopt;
  const bool dev_null = S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !dev_null) return std::nullopt;
  const int flags = ::fcntl(STDOUT_FILENO, F_GETFL);
  if (flags < 0 || (flags & O_APPEND) != 0) return std::nullopt;  // pwrite would append
  const off_t at = ::lseek(STDOUT_FILENO, 0, SEEK_CUR);
  if (at < 0) return std::nullopt;
  return PositionedOutput{static_cast<uint64_t>(at), S_ISREG(st.st_mode) && st.st_size <= at};
}

Status PwriteStdout(uint64_t at, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(STDOUT_FILENO, data.data(), data.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(std::string("writing to standard output: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
    at += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status CmdCat(const std::string& text, const std::string& range) {
  QUARRY_ASSIGN_OR_RETURN(auto t, Open(text));
  QUARRY_ASSIGN_OR_RETURN(auto info, t.store->Head(t.uri.bucket, t.uri.key));
  uint64_t offset = 0, length = info.size;
  if (!range.empty()) {
    QUARRY_ASSIGN_OR_RETURN(auto r, ParseRange(range, info.size));
    std::tie(offset, length) = r;
  }
  if (auto out = PositionedStdout()) {
    // Every ranged read writes its bytes in place as they arrive, in any order: nothing waits
    // for its turn in a buffer, and nothing is copied on the way.
    auto n = ParallelReadAt(*t.store, t.uri.bucket, t.uri.key, offset, length,
                            g_transfer.PositionedOptions(info.etag, length),
                            [&](uint64_t position, std::string_view data) {
                              return PwriteStdout(out->base + position, data);
                            });
    if (!n.ok()) {
      // No holes left behind: a failed cat leaves nothing rather than scattered parts.
      if (out->truncate_on_error) (void)!::ftruncate(STDOUT_FILENO, static_cast<off_t>(out->base));
      return n.status();
    }
    // Leave the offset where writing in order would have.
    (void)::lseek(STDOUT_FILENO, static_cast<off_t>(out->base + *n), SEEK_SET);
    return Status::Ok();
  }
  return ParallelRead(*t.store, t.uri.bucket, t.uri.key, offset, length,
                      g_transfer.Options(info.etag), WriteStdout)
      .status();
}

std::string BaseName(const std::string& key) {
  auto slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

bool IsLocalDirectory(const Target& t) {
  if (t.uri.scheme != "file") return false;
  std::error_code ec;
  return std::filesystem::is_directory("/" + t.uri.key, ec);
}

// One line on stderr (made printable), for what a command leaves out and goes on without.
// Thread-safe.
void Report(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "quarry: %s\n", EscapeForText(line, /*keep_backslashes=*/true).c_str());
}

// "'a', 'b' and 'c'".
std::string QuotedKeys(const std::vector<std::string>& keys) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += i + 1 == keys.size() ? " and " : ", ";
    out += "'" + keys[i] + "'";
  }
  return out;
}

// One object of a recursive copy: where it is read from and its name below the destination.
struct CopyItem {
  std::string key;  // in the source store (for local sources: the file's path without '/')
  uint64_t size = 0;
  std::string etag;
  std::string relative;  // below the destination: a key's rest, a local file's relative path
};

// The objects a recursive copy's source names (quarry/key_rules.h): one object (copied under its
// base name), everything under the prefix except folder markers, or a local folder's files
// (symbolic links as `follow_symlinks` says; what is skipped is reported).
Result<std::vector<CopyItem>> CopySources(const Target& src, bool follow_symlinks) {
  QUARRY_ASSIGN_OR_RETURN(auto selection, SelectKeys(*src.store, src.uri.bucket, src.uri.key));
  std::vector<CopyItem> items;
  if (selection.object) {
    auto& o = *selection.object;
    items.push_back({o.key, o.size, o.etag, BaseName(o.key)});
    return items;
  }
  if (src.uri.scheme == "file") {
    std::string folder = "/" + selection.prefix;
    if (folder.size() > 1) folder.pop_back();
    auto tree = WalkLocalFolder(folder, follow_symlinks);
    if (!tree.ok()) {
      return NotFound("nothing to copy: " + folder + " is not a file or folder");
    }
    for (const auto& skipped : tree->skipped) Report("skipped " + skipped);
    for (auto& f : tree->files) items.push_back({f.path.substr(1), f.size, "", f.relative_path});
  } else {
    QUARRY_ASSIGN_OR_RETURN(auto objects, ListAll(*src.store, src.uri.bucket, selection.prefix));
    for (auto& o : objects) {
      if (IsFolderMarker(o)) continue;  // not data: nothing to copy
      std::string relative = o.key.substr(selection.prefix.size());
      items.push_back({std::move(o.key), o.size, std::move(o.etag), std::move(relative)});
    }
  }
  if (items.empty()) {
    return NotFound("nothing to copy: no objects under " +
                    src.uri.WithKey(selection.prefix).ToString());
  }
  return items;
}

Status CmdCp(const std::string& src_text, const std::string& dst_text, bool recursive, int jobs,
             bool follow_symlinks) {
  QUARRY_ASSIGN_OR_RETURN(auto src, Open(src_text));
  QUARRY_ASSIGN_OR_RETURN(auto dst, Open(dst_text));
  const bool local_dst = dst.uri.scheme == "file";
  if (!recursive) {
    QUARRY_ASSIGN_OR_RETURN(auto info, src.store->Head(src.uri.bucket, src.uri.key));
    std::string dst_key = dst.uri.key;
    if (dst.uri.IsPrefix() || IsLocalDirectory(dst)) {
      std::string name = BaseName(src.uri.key);
      if (local_dst) {
        QUARRY_ASSIGN_OR_RETURN(name, LocalPathOfKey(name));
      }
      if (!dst_key.empty() && dst_key.back() != '/') dst_key += '/';
      dst_key += name;
    }
    return CopyObject(*src.store, src.uri.bucket, src.uri.key, info.size, *dst.store,
                      dst.uri.bucket, dst_key, g_transfer.Options(info.etag));
  }
  QUARRY_ASSIGN_OR_RETURN(auto items, CopySources(src, follow_symlinks));
  const size_t total = items.size();
  std::string dst_prefix = dst.uri.key;
  if (!dst_prefix.empty() && dst_prefix.back() != '/') dst_prefix += '/';
  std::atomic<size_t> not_copied{0};
  if (local_dst) {
    // Keys become paths inside the destination folder, or are left out; keys that need one
    // path are found before anything is written.
    std::vector<CopyItem> placed;
    std::vector<std::pair<std::string, std::string>> key_paths;
    for (auto& item : items) {
      auto path = LocalPathOfKey(item.relative);
      if (!path.ok()) {
        Report("key '" + item.key + "' not copied: " + path.status().message());
        ++not_copied;
        continue;
      }
      key_paths.emplace_back(item.key, *path);
      item.relative = std::move(path).value();
      placed.push_back(std::move(item));
    }
    const auto collisions = FindPathCollisions(key_paths);
    if (!collisions.empty()) {
      const std::string root = "/" + dst_prefix;
      for (const auto& c : collisions) {
        Report("keys " + QuotedKeys(c.keys) + " all need the local path " + root + c.path +
               " (as a file, or as a file and a folder)");
      }
      return IoError("nothing copied: " + std::to_string(collisions.size()) +
                     " local path(s) needed by several keys (named above); copy those keys one "
                     "by one with `quarry cp` to names of your choice");
    }
    items = std::move(placed);
  }
  const std::string dst_root = "/" + dst_prefix;
  // Small objects are many requests: run them side by side. Large ones parallelise inside.
  QUARRY_RETURN_IF_ERROR(ParallelFor(items.size(), jobs, [&](size_t i) {
    const auto& item = items[i];
    if (local_dst) {
      Status inside = CheckNoLinkedFolder(dst_root, item.relative);
      if (!inside.ok()) {
        Report("key '" + item.key + "' not copied: " + inside.message());
        ++not_copied;
        return Status::Ok();
      }
    }
    auto options = g_transfer.Options(item.etag);
    options.max_in_flight = std::max(1, g_transfer.parallel / 2);
    return CopyObject(*src.store, src.uri.bucket, item.key, item.size, *dst.store, dst.uri.bucket,
                      dst_prefix + item.relative, options);
  }));
  if (not_copied > 0) {
    return IoError(std::to_string(not_copied.load()) + " of " + std::to_string(total) +
                   " objects not copied (named above); the rest were copied");
  }
  return Status::Ok();
}

Status CmdRm(const std::string& text, bool recursive) {
  QUARRY_ASSIGN_OR_RETURN(auto t, Open(text));
  if (recursive) {
    // The object the URI names, or everything under the prefix it names; never sibling keys.
    QUARRY_ASSIGN_OR_RETURN(auto n, DeleteSelected(*t.store, t.uri.bucket, t.uri.key));
    if (n == 0) {
      return NotFound("nothing to delete: no object or prefix " + t.uri.ToString());
    }
    return Status::Ok();
  }
  if (t.uri.IsPrefix()) {
    return InvalidArgument("'" + t.uri.ToString() +
                           "' names a prefix: use rm -r to delete everything under it");
  }
  // Deleting a missing key succeeds in S3; the CLI tells the user instead.
  QUARRY_RETURN_IF_ERROR(t.store->Head(t.uri.bucket, t.uri.key).status());
  return t.store->DeleteObjects(t.uri.bucket, {t.uri.key});
}

Status CmdMakeBucket(const std::string& text) {
  QUARRY_ASSIGN_OR_RETURN(auto t, Open(text));
  return t.store->CreateBucket(t.uri.bucket);
}

Status CmdRemoveBucket(const std::string& text, bool force) {
  QUARRY_ASSIGN_OR_RETURN(auto t, Open(text));
  if (force) QUARRY_RETURN_IF_ERROR(DeletePrefix(*t.store, t.uri.bucket, "").status());
  return t.store->DeleteBucket(t.uri.bucket);
}

Status CmdPresign(const std::string& text, int64_t expires, bool stdin_list) {
  std::vector<std::string> uris;
  if (stdin_list) {
    for (std::string line; std::getline(std::cin, line);) {
      if (!line.empty()) uris.push_back(line);
    }
  } else {
    uris.push_back(text);
  }
  std::string out;
  for (const auto& u : uris) {
    QUARRY_ASSIGN_OR_RETURN(auto t, Open(u));
    QUARRY_ASSIGN_OR_RETURN(auto url, t.store->PresignGet(t.uri.bucket, t.uri.key, expires));
    out += url + "\n";
  }
  return WriteStdout(out);
}

// "\n", "\r\n", "\t", "\x1e", "\\" → bytes.
Result<std::string> Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    char c = text[++i];
    switch (c) {
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case '0': out.push_back('\0'); break;
      case '\\': out.push_back('\\'); break;
      case 'x': {
        if (i + 2 >= text.size()) {
          return InvalidArgument("separator '" + text + "': \\x needs two hex digits");
        }
        unsigned v = 0;
        auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
        if (ec != std::errc() || p != text.data() + i + 3) {
          return InvalidArgument("separator '" + text + "': \\x needs two hex digits");
        }
        out.push_back(static_cast<char>(v));
        i += 2;
        break;
      }
      default:
        return InvalidArgument("separator '" + text + "': unknown escape \\" + std::string(1, c) +
                               " (use \\n \\r \\t \\xHH \\\\)");
    }
  }
  return out;
}

// 1048576, 64K, 64M, 1G (binary units).
Result<uint64_t> ParseBytes(const std::string& text, const char* what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  std::string_view unit(p, static_cast<size_t>(text.data() + text.size() - p));
  uint64_t mult = unit.empty()                                    ? 1
                  : (unit == "K" || unit == "KiB" || unit == "k") ? 1ull << 10
                  : (unit == "M" || unit == "MiB")                ? 1ull << 20
                  : (unit == "G" || unit == "GiB")                ? 1ull << 30
                                                                  : 0;
  if (ec != std::errc() || mult == 0 || v == 0) {
    return InvalidArgument(std::string(what) + " '" + text +
                           "' is not a positive size such as 1048576, 64K, 64M or 1G");
  }
  return v * mult;
}

struct PlanFlags {
  std::string chunk_size, newline;
  uint64_t chunk_number = 0;
  bool lines = false, header = false;
  Result<PlanOptions> Options() const {
    PlanOptions o;
    if (!chunk_size.empty()) {
      QUARRY_ASSIGN_OR_RETURN(o.chunk_size, ParseBytes(chunk_size, "--chunk-size"));
    }
    o.chunk_number = chunk_number;
    if (lines) o.newline = "\n";
    if (!newline.empty()) {
      QUARRY_ASSIGN_OR_RETURN(o.newline, Unescape(newline));
    }
    o.header = header;
    return o;
  }
};

Status CmdPlan(const std::vector<std::string>& inputs, const PlanFlags& flags, bool as_json) {
  QUARRY_ASSIGN_OR_RETURN(auto options, flags.Options());
  QUARRY_ASSIGN_OR_RETURN(auto plan, Plan::Build(inputs, options));
  Partition p;
  std::string out;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, plan.Next(&p));
    if (!more) break;
    if (as_json) {
      out += Dump(json{{"uri", p.uri},
                       {"key", p.key},
                       {"part", p.part},
                       {"total_parts", p.total_parts},
                       {"start", p.start},
                       {"stop", p.stop},
                       {"size", p.size},
                       {"etag", p.etag},
                       {"compression", std::string(CompressionName(p.compression))}});
    } else {
      out += EscapeForText(p.uri) + "  part " + std::to_string(p.part) + "/" +
             std::to_string(p.total_parts) + "  [" + std::to_string(p.start) + ", " +
             std::to_string(p.stop) + ")";
    }
    out += '\n';
    if (out.size() > (1 << 16)) {
      QUARRY_RETURN_IF_ERROR(WriteStdout(out));
      out.clear();
    }
  }
  return WriteStdout(out);
}

Status CmdCatPart(const std::string& text, const PlanFlags& flags, uint64_t part) {
  QUARRY_ASSIGN_OR_RETURN(auto options, flags.Options());
  QUARRY_ASSIGN_OR_RETURN(auto plan, Plan::Build({text}, options));
  Partition p;
  for (uint64_t i = 0;; ++i) {
    QUARRY_ASSIGN_OR_RETURN(bool more, plan.Next(&p));
    if (!more) {
      return InvalidArgument("--part " + std::to_string(part) + " is out of range: the plan of '" +
                             text + "' has " + std::to_string(i) + " partitions (0-based)");
    }
    if (i == part) break;
  }
  QUARRY_ASSIGN_OR_RETURN(auto stream, p.Open());
  std::vector<char> buf(1 << 20);
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(size_t n, stream->Read(buf.data(), buf.size()));
    if (n == 0) return Status::Ok();
    QUARRY_RETURN_IF_ERROR(WriteStdout(std::string_view(buf.data(), n)));
  }
}

int Run(int argc, char** argv) {
  CLI::App app{"quarry: object storage from the shell (s3://, cos://, file://, mem://)"};
  app.require_subcommand(1);
  std::string uri, uri2, range;
  bool recursive = false, as_json = false, force = false;
  int jobs = 16;
  Status status;

  auto* ls = app.add_subcommand("ls", "list objects under a URI (prefixes shown as PRE)");
  ls->add_option("uri", uri, "s3://bucket/prefix/")->required();
  ls->add_flag("-r,--recursive", recursive, "list every key under the prefix");
  ls->add_flag("--json", as_json, "one JSON object per line: uri, key, size, etag, last_modified");
  ls->callback([&] { status = CmdLs(uri, recursive, as_json); });

  auto* stat = app.add_subcommand("stat", "show an object's size, etag and modification time");
  stat->add_option("uri", uri)->required();
  stat->add_flag("--json", as_json);
  stat->callback([&] { status = CmdStat(uri, as_json); });

  auto* cat = app.add_subcommand("cat", "write an object (or a byte range) to standard output");
  cat->add_option("uri", uri)->required();
  cat->add_option("--range", range, "bytes A-B (inclusive), A- or -N");
  cat->add_option("--parallel", g_transfer.parallel, "ranged reads in flight for large objects")
      ->check(CLI::Range(1, 64));
  cat->add_option("--part-size", g_transfer.part_mib,
                  "MiB per ranged read (default 8; into a file 8-32, by size)")
      ->check(CLI::Range(1, 1024));
  PlanFlags plan_flags;
  int64_t part = -1;
  auto add_plan_flags = [&](CLI::App* cmd) {
    auto* size = cmd->add_option("--chunk-size", plan_flags.chunk_size,
                                 "bytes per partition (64M, 1G, ...)");
    auto* number = cmd->add_option("--chunk-number", plan_flags.chunk_number,
                                   "partitions per object (at most)");
    size->excludes(number);
    auto* nl = cmd->add_option("--newline", plan_flags.newline,
                               "record separator, C escapes (\\n, \\r\\n, \\x1e)");
    auto* lines = cmd->add_flag("--lines", plan_flags.lines, "records end with \\n");
    nl->excludes(lines);
    cmd->add_flag("--header", plan_flags.header, "the first record is a header, not data");
  };
  add_plan_flags(cat);
  cat->add_option("--part", part, "write only partition K (0-based) of the plan");
  cat->callback([&] {
    status =
        part >= 0 ? CmdCatPart(uri, plan_flags, static_cast<uint64_t>(part)) : CmdCat(uri, range);
  });

  std::vector<std::string> inputs;
  auto* plan_cmd =
      app.add_subcommand("plan", "show the partitions of inputs (URIs, prefixes, globs)");
  plan_cmd->add_option("inputs", inputs)->required();
  add_plan_flags(plan_cmd);
  plan_cmd->add_flag("--json", as_json,
                     "one object per line: uri, key, part, total_parts, start, stop");
  plan_cmd->callback([&] { status = CmdPlan(inputs, plan_flags, as_json); });

  auto* cp = app.add_subcommand("cp", "copy objects: local<->remote, remote<->remote");
  cp->add_option("src", uri)->required();
  cp->add_option("dst", uri2)->required();
  cp->add_flag("-r,--recursive", recursive, "copy everything under the source prefix");
  bool follow_symlinks = false;
  cp->add_flag("--follow-symlinks,!--no-follow-symlinks", follow_symlinks,
               "copy what symbolic links in a local source folder point to (default: skip "
               "them, each named on stderr)");
  cp->add_option("-j,--jobs", jobs, "objects copied at once")->check(CLI::Range(1, 256));
  cp->add_option("--parallel", g_transfer.parallel, "ranged reads in flight per large object")
      ->check(CLI::Range(1, 64));
  cp->add_option("--part-size", g_transfer.part_mib, "MiB per ranged read (default 8)")
      ->check(CLI::Range(1, 1024));
  cp->callback([&] { status = CmdCp(uri, uri2, recursive, jobs, follow_symlinks); });

  auto* rm = app.add_subcommand("rm", "delete an object, or with -r everything under a prefix");
  rm->add_option("uri", uri)->required();
  rm->add_flag("-r,--recursive", recursive);
  rm->callback([&] { status = CmdRm(uri, recursive); });

  auto* mb = app.add_subcommand("mb", "create a bucket");
  mb->add_option("uri", uri)->required();
  mb->callback([&] { status = CmdMakeBucket(uri); });

  auto* rb = app.add_subcommand("rb", "delete a bucket");
  rb->add_option("uri", uri)->required();
  rb->add_flag("--force", force, "delete its objects first");
  rb->callback([&] { status = CmdRemoveBucket(uri, force); });

  int64_t expires = 3600;
  bool from_stdin = false;
  auto* presign =
      app.add_subcommand("presign", "print a URL that GETs the object without credentials");
  presign->add_option("uri", uri);
  presign->add_option("--expires", expires, "seconds the URL stays valid")
      ->check(CLI::Range(1, 604800));
  presign->add_flag("--stdin", from_stdin,
                    "presign every URI read from standard input, one a line");
  presign->callback([&] { status = CmdPresign(uri, expires, from_stdin); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "quarry: %s (see quarry --help)\n", e.what());
    return 2;
  }
  if (!status.ok()) {
    // One line, whatever the message quotes (keys may hold newlines and terminal controls).
    std::fprintf(stderr, "quarry: %s\n",
                 EscapeForText(status.message(), /*keep_backslashes=*/true).c_str());
    return status.code() == StatusCode::kInvalidArgument && status.http_status() == 0 ? 2 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace quarry

int main(int argc, char** argv) {
  try {
    return quarry::Run(argc, argv);
  } catch (const std::exception& e) {  // out of memory and the like: still a clear message
    std::fprintf(stderr, "quarry: %s\n", e.what());
    return 1;
  }
}
