#include "quarry/plan.h"

#include <algorithm>

#include "partition/compression.h"
#include "quarry/key_rules.h"
#include "quarry/line_aligner.h"
#include "quarry/list_fanout.h"
#include "quarry/registry.h"
#include "quarry/sinks.h"

namespace quarry {

uint64_t NominalChunk(uint64_t size, uint64_t chunk_size, uint64_t chunk_number) {
  if (chunk_size > 0) return chunk_size;
  if (chunk_number > 0) return size == 0 ? 1 : (size + chunk_number - 1) / chunk_number;
  return 0;
}

std::vector<std::pair<uint64_t, uint64_t>> NominalRanges(uint64_t size, uint64_t chunk_size,
                                                         uint64_t chunk_number) {
  const uint64_t c = NominalChunk(size, chunk_size, chunk_number);
  if (c == 0 || size == 0) return {{0, size}};
  std::vector<std::pair<uint64_t, uint64_t>> out;
  out.reserve(static_cast<size_t>((size + c - 1) / c));
  for (uint64_t s = 0; s < size; s += c) out.emplace_back(s, std::min(size, s + c));
  return out;
}

namespace {

// Matches a bracket class at pattern[pi] ('['); sets *next past it. False if malformed.
bool MatchClass(std::string_view pattern, size_t pi, char c, size_t* next, bool* matched) {
  size_t i = pi + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool found = false;
  bool first = true;
  while (i < pattern.size() && (pattern[i] != ']' || first)) {
    first = false;
    char lo = pattern[i];
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      if (c >= lo && c <= pattern[i + 2]) found = true;
      i += 3;
    } else {
      if (c == lo) found = true;
      ++i;
    }
  }
  if (i >= pattern.size()) return false;
  *next = i + 1;
  *matched = found != negate;
  return true;
}

bool GlobMatchAt(std::string_view p, size_t pi, std::string_view k, size_t ki) {
  while (pi < p.size()) {
    char pc = p[pi];
    if (pc == '*') {
      bool deep = pi + 1 < p.size() && p[pi + 1] == '*';
      size_t rest = pi + (deep ? 2 : 1);
      // "**/" also matches zero directories.
      if (deep && rest < p.size() && p[rest] == '/' && GlobMatchAt(p, rest + 1, k, ki)) return true;
      for (size_t j = ki; j <= k.size(); ++j) {
        if (GlobMatchAt(p, rest, k, j)) return true;
        if (j < k.size() && !deep && k[j] == '/') break;
      }
      return false;
    }
    if (ki >= k.size()) return false;
    if (pc == '?') {
      if (k[ki] == '/') return false;
    } else if (pc == '[') {
      size_t next = 0;
      bool matched = false;
      if (MatchClass(p, pi, k[ki], &next, &matched)) {
        if (!matched) return false;
        pi = next;
        ++ki;
        continue;
      }
      if (k[ki] != '[') return false;  // a lone '[' is literal
    } else if (pc != k[ki]) {
      return false;
    }
    ++pi;
    ++ki;
  }
  return ki == k.size();
}

bool HasGlob(std::string_view key) { return key.find_first_of("*?[") != std::string_view::npos; }

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view key) {
  return GlobMatchAt(pattern, 0, key, 0);
}

size_t GlobLiteralPrefix(std::string_view pattern) {
  size_t p = pattern.find_first_of("*?[");
  return p == std::string_view::npos ? pattern.size() : p;
}

struct Plan::State {
  PlanOptions options;
  std::vector<Uri> inputs;
  size_t input_index = 0;

  // Listing state of the current input.
  std::shared_ptr<ObjectStore> store;
  bool started = false;  // StartInput ran for the current input
  std::unique_ptr<Lister> lister;
  std::optional<ObjectInfo> exact;  // the input is exactly this object (nothing listed)
  std::string glob;                 // non-empty: filter keys by it
  bool matched_any = false;
  ListPage page;
  size_t page_pos = 0;
  uint64_t list_pages = 0;

  // Partitions of the current object not yet handed out.
  // Partitions of the current object not yet handed out, made one at a time (an object of many
  // chunks never has all its partitions in memory at once): parts [next_part, parts) of `base`,
  // each `chunk` bytes long (the last one shorter).
  Partition base;
  uint64_t chunk = 0;
  uint64_t parts = 0;
  uint64_t next_part = 0;

  Status StartInput();
  Result<bool> NextObject(ObjectInfo* info);
  Status Expand(const Uri& input, const ObjectInfo& info);
};

Status Plan::State::StartInput() {
  const Uri& in = inputs[input_index];
  QUARRY_ASSIGN_OR_RETURN(store,
                          StoreForUri(in, StorageOptionsOf(options.storage_options, in.scheme)));
  started = true;
  matched_any = false;
  page = {};
  page_pos = 0;
  glob.clear();
  lister.reset();
  // The rule of quarry/key_rules.h: an existing key is that object, glob characters or not;
  // else a pattern; else the "directory" key + "/" (never sibling keys).
  QUARRY_ASSIGN_OR_RETURN(exact, FindExactObject(*store, in.bucket, in.key));
  if (exact) return Status::Ok();
  std::string prefix = in.key;
  if (HasGlob(in.key)) {
    glob = in.key;
    prefix = in.key.substr(0, GlobLiteralPrefix(in.key));
  } else if (!in.IsPrefix()) {
    prefix += '/';
  }
  QUARRY_ASSIGN_OR_RETURN(lister, ListFanOut(*store, in.bucket, prefix));
  return Status::Ok();
}

Result<bool> Plan::State::NextObject(ObjectInfo* info) {
  if (!lister) {
    if (!exact) return false;
    *info = std::move(*exact);
    exact.reset();
    return true;
  }
  while (true) {
    while (page_pos < page.objects.size()) {
      ObjectInfo& o = page.objects[page_pos++];
      if (IsFolderMarker(o)) continue;  // not data
      if (!glob.empty() && !GlobMatch(glob, o.key)) continue;
      *info = std::move(o);
      return true;
    }
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    page_pos = 0;
    if (!more) return false;
    ++list_pages;
  }
}

Status Plan::State::Expand(const Uri& input, const ObjectInfo& info) {
  next_part = 0;
  base = Partition{};
  base.scheme = input.scheme;
  base.bucket = input.bucket;
  base.key = info.key;
  base.uri = input.WithKey(info.key).ToString();
  base.size = info.size;
  base.etag = info.etag;
  base.newline = options.newline;
  base.header = options.header;
  base.options = options;
  base.compression = Compression::kNone;
  chunk = NominalChunk(info.size, options.chunk_size, options.chunk_number);
  parts = chunk == 0 || info.size == 0 ? 1 : (info.size - 1) / chunk + 1;
  if (options.decompress && parts > 1) {
    // Would be split: a compressed object must not be. Its suffix can tell without a request;
    // otherwise its first bytes and Content-Encoding, from one small read.
    Compression c = CompressionFromSuffix(info.key);
    if (c == Compression::kNone) {
      std::string head;
      StringSink sink(&head);
      QUARRY_RETURN_IF_ERROR(
          store->ReadRange(input.bucket, info.key, 0, 6, &sink, ReadOptions{info.etag}).status());
      c = DetectCompression(head, info.key, sink.info() ? sink.info()->content_encoding : "");
    }
    if (c != Compression::kNone) {
      base.compression = c;
      parts = 1;
    }
  }
  if (parts == 1) chunk = std::max<uint64_t>(info.size, 1);
  base.total_parts = parts;
  return Status::Ok();
}

Plan::Plan(std::unique_ptr<State> state) : state_(std::move(state)) {}
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;
Plan::~Plan() = default;

const PlanOptions& Plan::options() const { return state_->options; }
uint64_t Plan::list_pages() const { return state_->list_pages; }

Result<Plan> Plan::Build(const std::vector<std::string>& inputs, PlanOptions options) {
  if (inputs.empty()) return InvalidArgument("no inputs: give at least one URI, e.g. s3://bucket/");
  if (options.chunk_size > 0 && options.chunk_number > 0) {
    return InvalidArgument("chunk_size and chunk_number exclude each other: give one");
  }
  if (!options.newline.empty()) QUARRY_RETURN_IF_ERROR(ValidateSeparator(options.newline));
  if (options.header && options.newline.empty()) {
    return InvalidArgument("header=True needs line mode: give newline (e.g. \"\\n\") too");
  }
  if (options.part_size == 0) return InvalidArgument("part_size must be positive");
  if (options.read_window == 0) return InvalidArgument("read_window must be positive");
  auto state = std::make_unique<State>();
  for (const auto& text : inputs) {
    QUARRY_ASSIGN_OR_RETURN(auto uri, ParseUri(text));
    if (auto backend = FindBackend(uri.scheme); !backend.ok()) {
      return backend.status().WithContext("input '" + text + "'");
    }
    if (uri.scheme != "file" && uri.bucket.empty()) {
      return InvalidArgument("input '" + text + "' has no bucket");
    }
    state->inputs.push_back(std::move(uri));
  }
  state->options = std::move(options);
  return Plan(std::move(state));
}

Result<bool> Plan::Next(Partition* out) {
  State& s = *state_;
  while (true) {
    if (s.next_part < s.parts) {
      *out = s.base;
      out->part = s.next_part++;
      out->start = out->part * s.chunk;
      out->stop = std::min(s.base.size, out->start + s.chunk);
      return true;
    }
    if (s.input_index >= s.inputs.size()) return false;
    if (!s.started) {
      Status started = s.StartInput();
      if (!started.ok()) {
        return started.WithContext("listing input '" + s.inputs[s.input_index].ToString() + "'");
      }
    }
    ObjectInfo info;
    auto got = s.NextObject(&info);
    if (!got.ok()) {
      return got.status().WithContext("listing input '" + s.inputs[s.input_index].ToString() + "'");
    }
    if (*got) {
      s.matched_any = true;
      QUARRY_RETURN_IF_ERROR(s.Expand(s.inputs[s.input_index], info));
      continue;
    }
    if (!s.matched_any) {
      const Uri& in = s.inputs[s.input_index];
      return NotFound("input '" + in.ToString() + "' matched no object at " + s.store->endpoint() +
                      ": check the bucket, prefix or pattern");
    }
    s.lister.reset();
    s.started = false;
    ++s.input_index;
  }
}

Result<std::vector<Partition>> Plan::All() {
  std::vector<Partition> all;
  Partition p;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, Next(&p));
    if (!more) break;
    all.push_back(std::move(p));
  }
  return all;
}

}  // namespace quarry
