// libFuzzer target: line-aligned partitioning on the in-memory store against a reference model.
// Input layout: byte 0 picks the separator, byte 1 the chunk size, byte 2 the read part size,
// byte 3 bit 0 the header flag; the rest is the object.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "quarry/data_stream.h"
#include "quarry/line_aligner.h"
#include "quarry/plan.h"
#include "quarry/registry.h"

namespace {

const char* const kSeparators[] = {"\n", "\r\n", "\x1e", "|#", "abc"};

std::string Expected(const std::string& data, const std::string& sep, bool header, uint64_t a,
                     uint64_t b) {
  std::string out;
  size_t start = 0;
  bool first = true;
  while (start < data.size()) {
    size_t p = data.find(sep, start);
    size_t end = p == std::string::npos ? data.size() : p + sep.size();
    if (!(header && first) && start >= a && start < b) out += data.substr(start, end - start);
    first = false;
    start = end;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 4) return 0;
  const std::string sep = kSeparators[bytes[0] % 5];
  const uint64_t chunk = 1 + bytes[1] % 64;
  const uint64_t part_size = 1 + bytes[2] % 16;
  const bool header = bytes[3] & 1;
  const std::string data(reinterpret_cast<const char*>(bytes + 4), size - 4);

  static auto store = [] {
    auto s = *quarry::StoreForUri(*quarry::ParseUri("mem://fuzz/"));
    (void)s->CreateBucket("fuzz");
    return s;
  }();
  if (!store->Put("fuzz", "obj", data).ok()) abort();
  quarry::PlanOptions options;
  options.chunk_size = chunk;
  options.newline = sep;
  options.header = header;
  options.part_size = part_size;
  options.decompress = false;
  auto plan = quarry::Plan::Build({"mem://fuzz/obj"}, options);
  if (!plan.ok()) abort();
  auto parts = plan->All();
  if (!parts.ok()) abort();
  std::string joined;
  std::string header_seen;
  for (const auto& p : *parts) {
    auto stream = p.Open();
    if (!stream.ok()) abort();
    auto got = (*stream)->ReadAll();
    if (!got.ok() || *got != Expected(data, sep, header, p.start, p.stop)) abort();
    if (header) header_seen = (*stream)->header().value_or("");
    joined += *got;
  }
  if (header_seen + joined != data) abort();
  return 0;
}
