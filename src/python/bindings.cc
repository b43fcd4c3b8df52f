// nanobind module `quarry._quarry`: the C++ engine for the Python front end.
//
// Every call that may touch storage releases the GIL. Failures raise the Python classes of
// quarry.errors (NotFound, PermissionDenied, InvalidArgument, Unavailable, ...), chosen from the
// Status code; messages never carry secrets.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "quarry/compression.h"
#include "quarry/config.h"
#include "quarry/data_stream.h"
#include "quarry/key_rules.h"
#include "quarry/object_ops.h"
#include "quarry/plan.h"
#include "quarry/registry.h"
#include "quarry/request_counters.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace quarry {
namespace {

// Carries a Status out of C++ code to the translator below.
struct StatusError {
  Status status;
};

[[noreturn]] void Raise(const Status& s) { throw StatusError{s}; }

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) Raise(r.status());
  return std::move(r).value();
}

void Check(const Status& s) {
  if (!s.ok()) Raise(s);
}

const char* ErrorClassName(StatusCode code) {
  switch (code) {
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kPermissionDenied: return "PermissionDenied";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kPreconditionFailed: return "PreconditionFailed";
    default: return "QuarryError";
  }
}

// A Python object's buffer, exported for the life of this object and released on every path
// out (a leaked export would, e.g., keep a bytearray from ever being resized again).
class BufferView {
 public:
  BufferView(nb::handle obj, int flags) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, flags | PyBUF_C_CONTIGUOUS) != 0) {
      throw nb::python_error();
    }
  }
  ~BufferView() { PyBuffer_Release(&view_); }
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;

  char* data() { return static_cast<char*>(view_.buf); }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_;
};

struct Target {
  Uri uri;
  std::shared_ptr<ObjectStore> store;
};

Target Open(const std::string& text, const StorageOptions& options) {
  Uri uri = Unwrap(ParseUri(text));
  auto store = Unwrap(StoreForUri(uri, options));
  return {std::move(uri), std::move(store)};
}

// uri, bucket, key, size, etag, last_modified, content_type, content_encoding
using InfoTuple = std::tuple<std::string, std::string, std::string, uint64_t, std::string,
                             std::string, std::string, std::string>;

InfoTuple ToTuple(const Uri& base, const ObjectInfo& o) {
  return {base.WithKey(o.key).ToString(),
          base.bucket,
          o.key,
          o.size,
          o.etag,
          o.last_modified,
          o.content_type,
          o.content_encoding};
}

// Pages of a listing, fetched with the GIL released.
class PyLister {
 public:
  PyLister(const std::string& uri, const StorageOptions& options, bool recursive) {
    target_ = Open(uri, options);
    nb::gil_scoped_release release;
    // What the URI names (quarry/key_rules.h): an object, or a prefix, never sibling keys. A
    // recursive listing fans out over sub-prefixes (same keys, same order).
    lister_ = Unwrap(ListSelected(*target_.store, target_.uri.bucket, target_.uri.key, recursive));
  }
  // The next page as (objects, prefixes), or None at the end.
  std::optional<std::pair<std::vector<InfoTuple>, std::vector<std::string>>> NextPage() {
    ListPage page;
    Result<bool> more = false;
    {
      nb::gil_scoped_release release;
      more = lister_->Next(&page);
    }
    if (!Unwrap(std::move(more))) return std::nullopt;
    std::vector<InfoTuple> objects;
    objects.reserve(page.objects.size());
    for (const auto& o : page.objects) objects.push_back(ToTuple(target_.uri, o));
    return std::make_pair(std::move(objects), std::move(page.common_prefixes));
  }

 private:
  Target target_;
  std::unique_ptr<Lister> lister_;
};

// Plan options arrive from Python as they were given: each is checked here, once, and a bad one
// is an InvalidArgument naming the option, the value and what is allowed (a plain cast would
// raise std::bad_cast, take True for 1, or wrap -1 round to 2^64-1).
std::string Shown(nb::handle v) { return nb::cast<std::string>(nb::repr(v)); }

// A whole number in [min, max]; bools are refused (True is not a size).
uint64_t WholeNumber(const std::string& key, nb::handle v, uint64_t min, uint64_t max,
                     const char* allowed) {
  auto bad = [&] {
    Raise(InvalidArgument(key + "=" + Shown(v) + " is not allowed: give " + allowed));
  };
  // Anything with __index__ (int, numpy integers), but not bool.
  if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr())) bad();
  nb::object whole = nb::steal(PyNumber_Index(v.ptr()));
  if (!whole.is_valid()) {
    PyErr_Clear();
    bad();
  }
  if (PyObject_RichCompareBool(whole.ptr(), nb::int_(0).ptr(), Py_LT) == 1) bad();
  const unsigned long long n = PyLong_AsUnsignedLongLong(whole.ptr());
  if (n == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();  // larger than 2^64 - 1
    bad();
  }
  if (n < min || n > max) bad();
  return n;
}

bool YesNo(const std::string& key, nb::handle v) {
  if (!PyBool_Check(v.ptr())) {
    Raise(InvalidArgument(key + "=" + Shown(v) + " is not allowed: give True or False"));
  }
  return v.ptr() == Py_True;
}

// The plan options Python may give, each once: its name and how its value is read. Python asks
// the module for the names (plan_option_keys) instead of listing them again. Storage options are
// not among them: they are given apart, per scheme.
struct PlanOptionSpec {
  const char* name;
  void (*read)(const std::string& key, nb::handle v, PlanOptions* o);
};

constexpr uint64_t kMaxPlanBytes = uint64_t{1} << 62;

const PlanOptionSpec kPlanOptions[] = {
    {"chunk_size",
     [](const std::string& key, nb::handle v, PlanOptions* o) {
       o->chunk_size = WholeNumber(key, v, 1, kMaxPlanBytes,
                                   "a positive number of bytes per partition (e.g. 64 << 20), or "
                                   "None for one partition per object");
     }},
    {"chunk_number",
     [](const std::string& key, nb::handle v, PlanOptions* o) {
       o->chunk_number = WholeNumber(key, v, 1, kMaxPlanBytes,
                                     "a positive number of partitions per object, or None for "
                                     "one partition per object");
     }},
    {"newline",
     [](const std::string&, nb::handle v, PlanOptions* o) {
       if (!nb::isinstance<nb::str>(v)) {
         Raise(
             InvalidArgument("newline=" + Shown(v) + " is not allowed: give bytes such as b'\\n'"));
       }
       o->newline = nb::cast<std::string>(v);
       if (o->newline.empty()) {
         Raise(InvalidArgument(
             "newline is empty: give a separator such as b'\\n', or None for byte mode"));
       }
     }},
    {"header",
     [](const std::string& key, nb::handle v, PlanOptions* o) { o->header = YesNo(key, v); }},
    {"decompress",
     [](const std::string& key, nb::handle v, PlanOptions* o) { o->decompress = YesNo(key, v); }},
    {"part_size",
     [](const std::string& key, nb::handle v, PlanOptions* o) {
       o->part_size = WholeNumber(key, v, 1, kMaxPlanBytes,
                                  "a positive number of bytes per ranged GET (default 64 MiB)");
     }},
    {"readahead",
     [](const std::string& key, nb::handle v, PlanOptions* o) {
       o->readahead = static_cast<int>(WholeNumber(
           key, v, 1, 256, "a number of ranged GETs in flight from 1 to 256 (default 2)"));
     }},
    {"read_window",
     [](const std::string& key, nb::handle v, PlanOptions* o) {
       o->read_window = WholeNumber(key, v, 1, kMaxPlanBytes,
                                    "a positive number of bytes a GET holds at a time (default "
                                    "1 MiB)");
     }},
};

PlanOptions MakePlanOptions(const nb::dict& d) {
  PlanOptions o;
  for (auto [k, v] : d) {
    std::string key = nb::cast<std::string>(k);
    if (v.is_none()) continue;
    const PlanOptionSpec* spec = nullptr;
    for (const auto& candidate : kPlanOptions) {
      if (key == candidate.name) spec = &candidate;
    }
    if (spec == nullptr) Raise(InvalidArgument("unknown plan option '" + key + "'"));
    spec->read(key, v, &o);
  }
  return o;
}

std::vector<std::string> PlanOptionKeys() {
  std::vector<std::string> keys;
  for (const auto& spec : kPlanOptions) keys.emplace_back(spec.name);
  return keys;
}

// What PlanOptions pickles as: every option but the storage options (given apart, per scheme).
using PlanOptionsState =
    std::tuple<uint64_t, uint64_t, nb::bytes, bool, bool, uint64_t, int, uint64_t>;

PlanOptionsState StateOf(const PlanOptions& o) {
  return {o.chunk_size, o.chunk_number, nb::bytes(o.newline.data(), o.newline.size()),
          o.header,     o.decompress,   o.part_size,
          o.readahead,  o.read_window};
}

PlanOptions PlanOptionsFromState(const PlanOptionsState& s) {
  PlanOptions o;
  const nb::bytes& newline = std::get<2>(s);
  std::tie(o.chunk_size, o.chunk_number, std::ignore, o.header, o.decompress, o.part_size,
           o.readahead, o.read_window) = s;
  o.newline.assign(newline.c_str(), newline.size());
  return o;
}

// `options` with the storage options, keyed by scheme, of the schemes a plan or stream reads.
PlanOptions WithStorage(PlanOptions options, StorageOptionsByScheme storage) {
  options.storage_options = std::move(storage);
  return options;
}

// A partition's fields as plain values, what it pickles as (never a handle, never its options:
// those travel apart, with the secrets kept out of reprs): uri, scheme, bucket, key, size, etag,
// part, total_parts, start, stop, compression.
using PartitionState = std::tuple<std::string, std::string, std::string, std::string, uint64_t,
                                  std::string, uint64_t, uint64_t, uint64_t, uint64_t, std::string>;

PartitionState StateOf(const Partition& p) {
  return {p.uri,
          p.scheme,
          p.bucket,
          p.key,
          p.size,
          p.etag,
          p.part,
          p.total_parts,
          p.start,
          p.stop,
          std::string(CompressionName(p.compression))};
}

Partition PartitionFromState(const PartitionState& s) {
  Partition p;
  std::tie(p.uri, p.scheme, p.bucket, p.key, p.size, p.etag, p.part, p.total_parts, p.start, p.stop,
           std::ignore) = s;
  p.compression = CompressionFromName(std::get<10>(s));
  return p;
}

// The whole of one object as stored, described by what a listing or a Head told (its URI parsed
// here, once).
Partition WholeObject(const std::string& uri, uint64_t size, const std::string& etag) {
  Uri parsed = Unwrap(ParseUri(uri));
  Partition p;
  p.uri = parsed.ToString();
  p.scheme = std::move(parsed.scheme);
  p.bucket = std::move(parsed.bucket);
  p.key = std::move(parsed.key);
  p.size = size;
  p.etag = etag;
  p.stop = size;
  return p;
}

// The store that serves a partition's object, from its parsed fields (no URI text is parsed), with
// the options of its scheme.
std::shared_ptr<ObjectStore> StoreOf(const Partition& p, const StorageOptionsByScheme& options) {
  return Unwrap(StoreForUri(p.Location(), StorageOptionsOf(options, p.scheme)));
}

class PyPlan {
 public:
  // One plan over every input, whichever their schemes: each is read with the options of its
  // own scheme in `storage_options`.
  PyPlan(const std::vector<std::string>& inputs, const PlanOptions& options,
         const StorageOptionsByScheme& storage_options)
      : plan_(Unwrap(Plan::Build(inputs, WithStorage(options, storage_options)))) {}

  // Up to `n` more partitions (fewer only at the end).
  std::vector<Partition> Next(size_t n) {
    std::vector<Partition> batch;
    Status failure;
    {
      nb::gil_scoped_release release;
      Partition p;
      while (batch.size() < n) {
        auto more = plan_.Next(&p);
        if (!more.ok()) {
          failure = more.status();
          break;
        }
        if (!*more) break;
        batch.push_back(std::move(p));
      }
    }
    Check(failure);
    // The plan's options travel apart from its partitions (quarry.Partition holds them).
    for (auto& p : batch) p.options = PlanOptions();
    return batch;
  }
  uint64_t list_pages() const { return plan_.list_pages(); }

 private:
  Plan plan_;
};

// Bytes of a copy worth releasing the GIL for: below it, giving the GIL up and taking it back
// (which may wait for another thread's turn) costs more than the copy.
constexpr size_t kCopyWithoutGilMin = size_t{64} * 1024;

// A partition's data stream. Every read waits and copies with the GIL released: read() fills a
// bytes object allocated up front, so the data is copied once, from the receive buffers.
class PyStream {
 public:
  // With `byte_range`, bytes [start, stop) of the object as stored (quarry.open), else the
  // partition's data.
  PyStream(const Partition& partition, const PlanOptions& options,
           const StorageOptionsByScheme& storage_options,
           std::optional<std::pair<uint64_t, uint64_t>> byte_range) {
    Partition p = partition;
    p.options = WithStorage(options, storage_options);
    p.newline = p.options.newline;
    p.header = p.options.header;
    std::shared_ptr<ObjectStore> store = StoreOf(p, p.options.storage_options);
    nb::gil_scoped_release release;
    stream_ = Unwrap(byte_range
                         ? OpenByteRange(std::move(store), p, byte_range->first, byte_range->second)
                         : OpenDataStream(std::move(store), p));
  }

  // Reads into any writable buffer (bytearray, memoryview, numpy array) without a copy.
  size_t ReadInto(nb::handle buffer) {
    BufferView view(buffer, PyBUF_WRITABLE);
    Result<size_t> n = size_t{0};
    {
      nb::gil_scoped_release release;
      n = stream_->Read(view.data(), view.size());
    }
    return Unwrap(std::move(n));
  }

  // The next bytes without a copy: a read-only memoryview of the stream's own buffer (where
  // the HTTP body was received), at most `max` bytes (all the current chunk when negative);
  // empty at the end. The memory stays allocated as long as the view lives; its bytes are only
  // meaningful until the next read on the stream.
  nb::object ReadChunk(int64_t max) {
    Result<DataStream::SharedChunk> chunk = DataStream::SharedChunk{};
    {
      nb::gil_scoped_release release;
      chunk = stream_->ReadSharedChunk(max < 0 ? SIZE_MAX : static_cast<size_t>(max));
    }
    DataStream::SharedChunk c = Unwrap(std::move(chunk));
    auto* keep = new std::shared_ptr<const void>(std::move(c.owner));
    nb::capsule owner(
        keep, [](void* p) noexcept { delete static_cast<std::shared_ptr<const void>*>(p); });
    const size_t shape[1] = {c.data.size()};
    return nb::cast(nb::ndarray<nb::memview, const uint8_t, nb::ndim<1>>(
        reinterpret_cast<const uint8_t*>(c.data.data()), 1, shape, owner));
  }

  // Up to `n` bytes (all the rest when negative); b"" at the end.
  nb::object Read(int64_t n) {
    const uint64_t limit = n < 0 ? UINT64_MAX : static_cast<uint64_t>(n);
    const std::optional<uint64_t> size = stream_->Size();
    // The room to read into: exactly what is left when the data's length is known, else a room
    // that grows while it fills.
    uint64_t room = std::min(limit, kUnknownRestStep);
    if (size) room = std::min(limit, *size - std::min(*size, stream_->Tell()));
    PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(room));
    if (out == nullptr) throw nb::python_error();
    uint64_t filled = 0;
    Status failure;
    while (true) {
      Result<size_t> got = size_t{0};
      {
        nb::gil_scoped_release release;
        got = stream_->Read(PyBytes_AS_STRING(out) + filled, static_cast<size_t>(room - filled));
      }
      if (!got.ok()) {
        failure = got.status();
        break;
      }
      filled += *got;
      if (size || *got == 0 || filled < room || room == limit) break;
      // The data's length is not known and the room is full: make more.
      room = std::min(limit, room * 2);
      if (_PyBytes_Resize(&out, static_cast<Py_ssize_t>(room)) != 0) throw nb::python_error();
    }
    if (!failure.ok()) {
      Py_DECREF(out);
      Raise(failure);
    }
    if (filled != room && _PyBytes_Resize(&out, static_cast<Py_ssize_t>(filled)) != 0) {
      throw nb::python_error();
    }
    return nb::steal(out);
  }

  nb::object ReadLine() {
    Result<std::string> line = std::string();
    {
      nb::gil_scoped_release release;
      line = stream_->ReadLine();
    }
    return ToBytes(Unwrap(std::move(line)));
  }

  // Records from here to the end, counted in C++ without the GIL (the bytes are read, not kept).
  uint64_t CountRecords() {
    Result<uint64_t> n = uint64_t{0};
    {
      nb::gil_scoped_release release;
      n = stream_->CountRecords();
    }
    return Unwrap(std::move(n));
  }

  // Up to `max` records at once (fewer at the end); an empty list at the end.
  nb::list ReadLines(size_t max) {
    std::vector<std::string> lines;
    Status failure;
    {
      nb::gil_scoped_release release;
      while (lines.size() < max) {
        auto line = stream_->ReadLine();
        if (!line.ok()) {
          failure = line.status();
          break;
        }
        if (line->empty()) break;
        lines.push_back(std::move(*line));
      }
    }
    Check(failure);
    nb::list out;
    for (const auto& l : lines) out.append(nb::bytes(l.data(), l.size()));
    return out;
  }

  void Seek(uint64_t pos) {
    Status s;
    {
      nb::gil_scoped_release release;
      s = stream_->Seek(pos);
    }
    Check(s);
  }
  uint64_t Tell() const { return stream_->Tell(); }
  // The data's length when known without reading on (DataStream::Size), else None.
  std::optional<uint64_t> Size() const { return stream_->Size(); }
  std::optional<nb::bytes> Header() const {
    const auto& h = stream_->header();
    if (!h) return std::nullopt;
    return nb::bytes(h->data(), h->size());
  }
  uint64_t BytesFetched() const { return stream_->bytes_fetched(); }

 private:
  // Where the length of the rest is unknown (line mode before its end is found, compressed
  // data), read() reads into rooms that grow from this size.
  static constexpr uint64_t kUnknownRestStep = uint64_t{1} << 20;

  // A copy of `s` as bytes; a long one is copied with the GIL released.
  static nb::object ToBytes(const std::string& s) {
    if (s.size() < kCopyWithoutGilMin) return nb::bytes(s.data(), s.size());
    PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(s.size()));
    if (out == nullptr) throw nb::python_error();
    {
      nb::gil_scoped_release release;
      std::memcpy(PyBytes_AS_STRING(out), s.data(), s.size());
    }
    return nb::steal(out);
  }

  std::unique_ptr<DataStream> stream_;
};

// A byte offset given to get(): any integer (int, numpy integers: what has __index__), 0 or more.
uint64_t ByteOffset(const char* name, nb::handle value) {
  auto invalid = [&](const std::string& why) {
    Raise(InvalidArgument("get: " + std::string(name) + "=" + nb::repr(value).c_str() + " " + why));
  };
  if (PyBool_Check(value.ptr()) || PyIndex_Check(value.ptr()) == 0) {
    invalid(std::string("is not an integer (") + Py_TYPE(value.ptr())->tp_name +
            "): give a byte offset, a whole number from 0" +
            (std::string(name) == "stop" ? ", or None for the end of the object" : ""));
  }
  nb::object number = nb::steal(PyNumber_Index(value.ptr()));
  if (!number.is_valid()) throw nb::python_error();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
  if (overflow == 0 && v == -1 && PyErr_Occurred() != nullptr) throw nb::python_error();
  if (overflow < 0 || (overflow == 0 && v < 0)) {
    invalid("is negative: byte offsets count from the start of the object, from 0");
  }
  // Past any object's end: a range cut at the end, or nothing.
  if (overflow > 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(v);
}

// Readies fresh memory that is about to be filled: huge pages where the kernel allows, all mapped
// at once (MADV_POPULATE_WRITE, Linux 5.14+) rather than one fault per 4 KiB as the bytes arrive.
// Clearing fresh pages is most of a large get's own CPU (perf, 2 GiB on a 2-core VM: 72% in the
// kernel's clear_page); mapped so, filling 1 GiB took 0.1 s of kernel time, against 0.7 s when
// faulted page by page. Only hints: ignored where unsupported.
void PrepareFreshMemory(char* data, size_t size) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t misalignment = reinterpret_cast<uintptr_t>(data) % kHugePage;
  const size_t skip = misalignment == 0 ? 0 : kHugePage - misalignment;
  if (size < skip + kHugePage) return;  // too small to matter
  char* begin = data + skip;
  const size_t length = (size - skip) / kHugePage * kHugePage;
  (void)::madvise(begin, length, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  (void)::madvise(begin, length, MADV_POPULATE_WRITE);
#endif
}

// get(): the bytes [start, stop) of an object as one bytes object, allocated once the first reply
// tells the size (the GIL is taken for just that) and filled in place with the GIL released:
// ranged reads in parallel, each received straight into its place. Peak memory: the object.
nb::object GetObject(const std::string& uri, const StorageOptions& options, nb::handle start_arg,
                     nb::handle stop_arg) {
  const uint64_t start = ByteOffset("start", start_arg);
  std::optional<uint64_t> stop;
  if (!stop_arg.is_none()) stop = ByteOffset("stop", stop_arg);
  if (stop && *stop < start) {
    Raise(InvalidArgument("get: stop=" + std::to_string(*stop) + " is before start=" +
                          std::to_string(start) + ": give stop >= start, or None for the end"));
  }
  auto t = Open(uri, options);
  // Reads as long and as many as a stream's (the server's CPU is what limits: long requests
  // cost it least); the part size costs no memory here, as every read lands in place.
  const PlanOptions stream_defaults;
  ParallelReadOptions read_options;
  read_options.part_size = stream_defaults.part_size;
  read_options.max_in_flight = stream_defaults.readahead;
  PyObject* bytes = nullptr;
  bool out_of_memory = false;
  Result<uint64_t> got = uint64_t{0};
  {
    nb::gil_scoped_release release;
    got = ReadObjectInto(*t.store, t.uri.bucket, t.uri.key, start, stop, read_options,
                         [&](uint64_t size) -> Result<char*> {
                           {
                             nb::gil_scoped_acquire gil;
                             if (size <= static_cast<uint64_t>(PY_SSIZE_T_MAX)) {
                               bytes = PyBytes_FromStringAndSize(nullptr,
                                                                 static_cast<Py_ssize_t>(size));
                             }
                             if (bytes == nullptr) PyErr_Clear();
                           }
                           if (bytes == nullptr) {
                             out_of_memory = true;
                             return Status(StatusCode::kIoError, "out of memory");
                           }
                           PrepareFreshMemory(PyBytes_AS_STRING(bytes), static_cast<size_t>(size));
                           return PyBytes_AS_STRING(bytes);
                         });
  }
  nb::object result = nb::steal(bytes);
  if (out_of_memory) throw std::bad_alloc();
  Unwrap(std::move(got));
  return result;
}

// The stores of `partitions`, each range checked against its partition's object: one range per
// partition, start <= stop <= the object's size. `caller` names the function in the errors.
std::vector<std::shared_ptr<ObjectStore>> RangeStores(
    const char* caller, const std::vector<const Partition*>& partitions,
    const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
    const StorageOptionsByScheme& storage_options) {
  if (partitions.size() != ranges.size()) {
    Raise(InvalidArgument(std::string(caller) + ": " + std::to_string(partitions.size()) +
                          " partitions and " + std::to_string(ranges.size()) +
                          " ranges: give one range per partition"));
  }
  std::vector<std::shared_ptr<ObjectStore>> stores;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const Partition& p = *partitions[i];
    const auto [start, stop] = ranges[i];
    if (start > stop || stop > p.size) {
      Raise(InvalidArgument(std::string(caller) + ": [" + std::to_string(start) + ", " +
                            std::to_string(stop) + ") is not a range of " + p.uri + " (" +
                            std::to_string(p.size) + " bytes)"));
    }
    stores.push_back(StoreOf(p, storage_options));
  }
  return stores;
}

// Reads range i of partitions[i]'s object, pinned to the ETag and size of the listing, into
// base + at[i], `concurrency` requests at a time; the caller has released the GIL.
Status ReadRangesAt(const std::vector<const Partition*>& partitions,
                    const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                    const std::vector<std::shared_ptr<ObjectStore>>& stores, char* base,
                    const std::vector<uint64_t>& at, int concurrency) {
  std::vector<RangeRead> reads(partitions.size());
  for (size_t i = 0; i < partitions.size(); ++i) {
    const Partition& p = *partitions[i];
    reads[i] = {.store = stores[i].get(),
                .bucket = p.bucket,
                .key = p.key,
                .start = ranges[i].first,
                .stop = ranges[i].second,
                .options = {.if_match = p.etag, .object_size = p.size},
                .out = base + at[i]};
  }
  return ReadRanges(reads, {.concurrency = std::max(1, concurrency)});
}

// Bytes [start, stop) as stored of each partition's object (ranges[i] of partitions[i]), pinned
// to the ETag and size of the listing, `concurrency` requests at a time with the GIL released,
// into one bytes object: (offsets, data), offsets holding len(ranges) + 1 int64 values, range i
// being data[offsets[i]:offsets[i + 1]]. `storage_options` are keyed by scheme.
std::pair<nb::bytes, nb::object> ReadRangesOf(
    const std::vector<const Partition*>& partitions,
    const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
    const StorageOptionsByScheme& storage_options, int concurrency) {
  const auto stores = RangeStores("read_ranges", partitions, ranges, storage_options);
  std::vector<int64_t> offsets(1, 0);
  std::vector<uint64_t> at;
  for (const auto& [start, stop] : ranges) {
    at.push_back(static_cast<uint64_t>(offsets.back()));
    offsets.push_back(offsets.back() + static_cast<int64_t>(stop - start));
  }
  PyObject* data = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(offsets.back()));
  if (data == nullptr) throw nb::python_error();
  nb::object out = nb::steal(data);
  Status status;
  {
    nb::gil_scoped_release release;
    PrepareFreshMemory(PyBytes_AS_STRING(data), static_cast<size_t>(offsets.back()));
    status = ReadRangesAt(partitions, ranges, stores, PyBytes_AS_STRING(data), at, concurrency);
  }
  Check(status);
  return {nb::bytes(offsets.data(), offsets.size() * sizeof(int64_t)), std::move(out)};
}

// As ReadRangesOf, but range i lands at target[at[i]:at[i] + its length] of a writable buffer
// (e.g. a sparse anonymous mapping of the object's size, where each range lands at its own
// offset); the ranges' places must lie inside the buffer.
void ReadRangesInto(const std::vector<const Partition*>& partitions,
                    const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                    const std::vector<uint64_t>& at, nb::handle target,
                    const StorageOptionsByScheme& storage_options, int concurrency) {
  if (at.size() != ranges.size()) {
    Raise(InvalidArgument("read_ranges_into: " + std::to_string(ranges.size()) + " ranges and " +
                          std::to_string(at.size()) + " places: give one place per range"));
  }
  const auto stores = RangeStores("read_ranges_into", partitions, ranges, storage_options);
  BufferView view(target, PyBUF_WRITABLE);
  for (size_t i = 0; i < ranges.size(); ++i) {
    const uint64_t length = ranges[i].second - ranges[i].first;
    if (at[i] > view.size() || length > view.size() - at[i]) {
      Raise(InvalidArgument("read_ranges_into: " + std::to_string(length) + " bytes at " +
                            std::to_string(at[i]) + " do not fit the target buffer of " +
                            std::to_string(view.size()) + " bytes"));
    }
  }
  Status status;
  {
    nb::gil_scoped_release release;
    for (size_t i = 0; i < ranges.size(); ++i) {
      PrepareFreshMemory(view.data() + at[i],
                         static_cast<size_t>(ranges[i].second - ranges[i].first));
    }
    status = ReadRangesAt(partitions, ranges, stores, view.data(), at, concurrency);
  }
  Check(status);
}

// What put() accepts, for its messages.
constexpr const char* kPutAccepts =
    "give bytes-like data (bytes, bytearray, memoryview, mmap, a numpy array) or a file object "
    "opened for binary reading";

// Reads a regular file by its descriptor from `offset` to its end into the writer's own memory,
// with no copy in between (the caller has released the GIL). Returns where the file ended.
Result<uint64_t> WriteFromDescriptor(ObjectWriter& writer, int fd, uint64_t offset) {
  for (;;) {
    QUARRY_ASSIGN_OR_RETURN(std::span<char> room, writer.Room());
    const ssize_t n = ::pread(fd, room.data(), room.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return IoError(std::string("put: reading the file to upload: ") + std::strerror(err) +
                     (err == EBADF ? " (is it open for reading?)" : ""));
    }
    if (n == 0) return offset;
    QUARRY_RETURN_IF_ERROR(writer.Commit(static_cast<size_t>(n)));
    offset += static_cast<uint64_t>(n);
  }
}

// The descriptor of a file object that is a seekable regular file, else -1 (pipes, sockets,
// in-memory files, objects without fileno()).
int RegularFileDescriptor(nb::handle file) {
  if (!nb::hasattr(file, "fileno") || !nb::hasattr(file, "seek") || !nb::hasattr(file, "tell")) {
    return -1;
  }
  int fd = -1;
  try {
    if (nb::hasattr(file, "seekable") && !nb::cast<bool>(file.attr("seekable")())) return -1;
    fd = nb::cast<int>(file.attr("fileno")());
  } catch (const nb::python_error&) {  // io.UnsupportedOperation and the like: not a real file
    return -1;
  } catch (const nb::cast_error&) {
    return -1;
  }
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return fd;
}

// Streams a binary file object into `writer`, from its current position, in bounded memory: a
// regular file through its descriptor with the GIL released (then left at its end, as read()
// would leave it); other file objects through readinto() into one reusable buffer, or read().
Status WriteFileObject(ObjectWriter& writer, nb::handle file) {
  nb::object text_io = nb::module_::import_("io").attr("TextIOBase");
  if (PyObject_IsInstance(file.ptr(), text_io.ptr()) == 1) {
    return InvalidArgument("put: the file object is open in text mode: open it with 'rb'");
  }
  if (const int fd = RegularFileDescriptor(file); fd >= 0) {
    if (nb::hasattr(file, "flush")) file.attr("flush")();  // bytes a writable file still buffers
    const uint64_t offset = nb::cast<uint64_t>(file.attr("tell")());
    Result<uint64_t> end = offset;
    {
      nb::gil_scoped_release release;
      end = WriteFromDescriptor(writer, fd, offset);
    }
    if (!end.ok()) return end.status();
    file.attr("seek")(*end);
    return Status::Ok();
  }
  // The buffer is Python's own, so nothing the file object keeps of it can outlive it; each
  // piece is copied into the writer's part buffers (Write of less than a part does not wait).
  constexpr size_t kPiece = size_t{4} << 20;
  const bool has_readinto = nb::hasattr(file, "readinto");
  nb::object piece = nb::steal(PyByteArray_FromStringAndSize(nullptr, kPiece));
  if (!piece.is_valid()) throw nb::python_error();
  nb::object readinto = has_readinto ? file.attr("readinto") : file.attr("read");
  for (;;) {
    nb::object got = has_readinto ? readinto(piece) : readinto(kPiece);
    if (got.is_none()) {
      return InvalidArgument(
          "put: the file object is non-blocking and had no data ready: give a blocking one");
    }
    nb::object chunk = has_readinto ? piece : got;
    if (!has_readinto && PyUnicode_Check(got.ptr())) {
      return InvalidArgument("put: the file object's read() returns str: open it with 'rb'");
    }
    if (!has_readinto && PyObject_CheckBuffer(got.ptr()) == 0) {
      return InvalidArgument(std::string("put: the file object's read() returns ") +
                             Py_TYPE(got.ptr())->tp_name + ", not bytes");
    }
    const size_t n = has_readinto ? nb::cast<size_t>(got) : static_cast<size_t>(nb::len(got));
    if (n == 0) return Status::Ok();
    BufferView view(chunk, PyBUF_SIMPLE);
    if (n > view.size()) return InvalidArgument("put: readinto() returned more than it was given");
    Status s;
    {
      nb::gil_scoped_release release;
      s = writer.Write(std::string_view(view.data(), n));
    }
    QUARRY_RETURN_IF_ERROR(s);
  }
}

// put(): bytes-like data goes up straight from the caller's memory (no copy); file objects are
// streamed (see WriteFileObject). Memory stays bounded by the writer's part buffers.
void PutObject(const std::string& uri, nb::handle data, const StorageOptions& options,
               const std::string& content_type, const std::string& content_encoding) {
  if (data.is_none()) Raise(InvalidArgument("put: data is None: " + std::string(kPutAccepts)));
  if (PyUnicode_Check(data.ptr())) {
    Raise(InvalidArgument("put: data is a str: encode it first (data.encode()) or " +
                          std::string(kPutAccepts)));
  }
  const bool buffer = PyObject_CheckBuffer(data.ptr()) != 0;
  if (!buffer && !nb::hasattr(data, "readinto") && !nb::hasattr(data, "read")) {
    Raise(InvalidArgument(std::string("put: data of type ") + Py_TYPE(data.ptr())->tp_name +
                          " is neither bytes-like nor a file object: " + kPutAccepts));
  }
  auto t = Open(uri, options);
  std::unique_ptr<ObjectWriter> writer;
  {
    nb::gil_scoped_release release;
    writer = Unwrap(
        t.store->OpenWriter(t.uri.bucket, t.uri.key, PutOptions{content_type, content_encoding}));
  }
  // Dropping the writer may make a request (abandoning the upload): not under the GIL.
  auto drop_writer = [&] {
    nb::gil_scoped_release release;
    writer.reset();
  };
  Status s;
  try {
    if (buffer) {
      std::optional<BufferView> view;
      try {
        view.emplace(data, PyBUF_SIMPLE);
      } catch (const nb::python_error& e) {
        if (!e.matches(PyExc_BufferError) && !e.matches(PyExc_ValueError)) throw;
        Raise(InvalidArgument(
            "put: data is a buffer that is not contiguous: copy it first (e.g. with "
            "numpy.ascontiguousarray) or " +
            std::string(kPutAccepts)));
      }
      nb::gil_scoped_release release;
      s = writer->Write(std::string_view(view->data(), view->size()));
    } else {
      s = WriteFileObject(*writer, data);
    }
  } catch (...) {
    drop_writer();
    throw;
  }
  if (s.ok()) {
    nb::gil_scoped_release release;
    s = writer->Close();
  }
  if (!s.ok()) {
    drop_writer();
    Raise(s);
  }
  drop_writer();
}

nb::dict CountsDict(const RequestCounts& counts) {
  nb::dict d;
  ForEachCount(counts, [&](const char* name, uint64_t value) { d[name] = value; });
  return d;
}

// Counters a Python caller hands to the threads of its work. The C++ side owns them outright
// (no Python object behind the pointer), so a thread of Quarry's may drop the last reference
// without the GIL.
struct PyRequestCounters {
  PyRequestCounters() : counters(std::make_shared<RequestCounters>()) {}
  explicit PyRequestCounters(std::shared_ptr<RequestCounters> c) : counters(std::move(c)) {}

  nb::dict Snapshot() const { return CountsDict(ReadCounts(*counters)); }

  std::shared_ptr<RequestCounters> counters;
};

// Request counters summed over every store this process has made.
nb::dict Stats() {
  StoreStats total;
  for (const auto& store : CachedStores()) total += store->stats();
  return CountsDict(total);
}

}  // namespace
}  // namespace quarry

NB_MODULE(_quarry, m) {
  using namespace quarry;
  m.doc() = "Quarry's C++ engine";

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      nb::object errors = nb::module_::import_("quarry.errors");
      nb::object cls = errors.attr(ErrorClassName(e.status.code()));
      PyErr_SetObject(cls.ptr(), nb::str(e.status.message().c_str()).ptr());
    }
  });

  m.def(
      "resolve_job_storage_options",
      [](const std::string& scheme, const StorageOptions& options) {
        nb::gil_scoped_release release;  // may make a token exchange
        return Unwrap(ResolveJobStorageOptions(scheme, options));
      },
      "scheme"_a, "options"_a,
      "Resolves a scheme's configuration (options, environment, files) and makes its token "
      "exchange now (none for static keys): the options to ship to a job's workers.");
  m.def("redacted", &RedactedString, "options"_a);
  m.def("credential_fetch_count", &CredentialFetchCount, "Token exchanges made by this process.");
  m.def("schemes", &RegisteredSchemes, "The schemes of the registered backends.");
  m.def(
      "scheme_keys",
      [](const std::string& scheme) {
        const BackendSpec* spec = Unwrap(FindBackend(scheme));
        std::vector<std::string> keys = spec->config.keys;
        keys.insert(keys.end(), spec->config.shipped_keys.begin(), spec->config.shipped_keys.end());
        return keys;
      },
      "scheme"_a, "The storage option keys a scheme accepts.");
  m.def("parse_uri", [](const std::string& text) {
    Uri u = Unwrap(ParseUri(text));
    return std::make_tuple(u.scheme, u.bucket, u.key, u.ToString());
  });

  m.def(
      "list_buckets",
      [](const std::string& scheme, const StorageOptions& options) {
        Uri service;
        service.scheme = scheme;
        auto store = Unwrap(StoreForUri(service, options));
        std::vector<BucketInfo> buckets;
        {
          nb::gil_scoped_release release;
          buckets = Unwrap(store->ListBuckets());
        }
        std::vector<std::pair<std::string, std::string>> out;
        for (auto& b : buckets) out.emplace_back(std::move(b.name), std::move(b.creation_date));
        return out;
      },
      "scheme"_a, "options"_a);

  m.def(
      "head",
      [](const std::string& uri, const StorageOptions& options) {
        auto t = Open(uri, options);
        nb::gil_scoped_release release;
        return ToTuple(t.uri, Unwrap(t.store->Head(t.uri.bucket, t.uri.key)));
      },
      "uri"_a, "options"_a);

  m.def("get", &GetObject, "uri"_a, "options"_a, "start"_a = 0, "stop"_a.none() = nb::none());

  m.def("read_ranges", &ReadRangesOf, "partitions"_a, "ranges"_a, "storage_options"_a,
        "concurrency"_a = 16,
        "Bytes [start, stop) as stored of each partition's object, pinned to its listing (ETag, "
        "size), read `concurrency` requests at a time: (offsets, data), offsets being "
        "len(ranges) + 1 int64 values; range i is data[offsets[i]:offsets[i + 1]].");

  m.def("read_ranges_into", &ReadRangesInto, "partitions"_a, "ranges"_a, "at"_a, "target"_a,
        "storage_options"_a, "concurrency"_a = 16,
        "As read_ranges, but range i lands at target[at[i]:at[i] + its length] of the writable "
        "buffer `target`.");

  m.def("put", &PutObject, "uri"_a, "data"_a.none(), "options"_a, "content_type"_a = "",
        "content_encoding"_a = "");

  m.def(
      "delete",
      [](const std::string& uri, bool recursive, const StorageOptions& options) -> uint64_t {
        auto t = Open(uri, options);
        nb::gil_scoped_release release;
        // The object the URI names, or everything under the prefix it names (never siblings).
        if (recursive) return Unwrap(DeleteSelected(*t.store, t.uri.bucket, t.uri.key));
        Check(t.store->Head(t.uri.bucket, t.uri.key).status());
        Check(t.store->DeleteObjects(t.uri.bucket, {t.uri.key}));
        return 1;
      },
      "uri"_a, "recursive"_a, "options"_a);

  m.def(
      "create_bucket",
      [](const std::string& uri, const StorageOptions& options) {
        auto t = Open(uri, options);
        nb::gil_scoped_release release;
        Check(t.store->CreateBucket(t.uri.bucket));
      },
      "uri"_a, "options"_a);

  m.def("stats", &Stats, "Request counters of this process's stores.");
  m.def("plan_option_keys", &PlanOptionKeys,
        "The options a plan takes (chunk_size, newline, ...), as PlanOptions reads them.");
  nb::class_<PlanOptions>(m, "PlanOptions",
                          "A plan's options, checked once: how objects are cut into partitions "
                          "and how their data is read (storage options are given apart, per "
                          "scheme). Its partitions carry it to the tasks that open them.")
      .def(
          "__init__",
          [](PlanOptions* o, const nb::dict& options) {
            new (o) PlanOptions(MakePlanOptions(options));
          },
          "options"_a = nb::dict(),
          "From a dict of plan_option_keys() values (None: the default); a bad value is an "
          "InvalidArgument naming the option and what is allowed.")
      .def_ro("chunk_size", &PlanOptions::chunk_size)
      .def_ro("chunk_number", &PlanOptions::chunk_number)
      .def_prop_ro(
          "newline",
          [](const PlanOptions& o) { return nb::bytes(o.newline.data(), o.newline.size()); })
      .def_ro("header", &PlanOptions::header)
      .def_ro("decompress", &PlanOptions::decompress)
      .def_ro("part_size", &PlanOptions::part_size)
      .def_ro("readahead", &PlanOptions::readahead)
      .def_ro("read_window", &PlanOptions::read_window)
      .def("__getstate__", [](const PlanOptions& o) { return StateOf(o); })
      .def("__setstate__", [](PlanOptions& o, const PlanOptionsState& state) {
        new (&o) PlanOptions(PlanOptionsFromState(state));
      });
  nb::class_<PyRequestCounters>(m, "RequestCounters",
                                "Requests counted for one piece of work, on whichever thread.")
      .def(nb::init<>())
      .def("snapshot", &PyRequestCounters::Snapshot);
  m.def(
      "set_request_counters",
      [](const PyRequestCounters* counters) -> std::optional<PyRequestCounters> {
        std::shared_ptr<RequestCounters> previous =
            SwapRequestCounters(counters == nullptr ? nullptr : counters->counters);
        if (previous == nullptr) return std::nullopt;
        return PyRequestCounters(std::move(previous));
      },
      "counters"_a.none(),
      "Makes `counters` (None: none) those this thread's requests count into, and the threads "
      "Quarry starts from it; returns the previous ones.");

  nb::class_<PyLister>(m, "Lister")
      .def(nb::init<const std::string&, const StorageOptions&, bool>(), "uri"_a, "options"_a,
           "recursive"_a = true)
      .def("next_page", &PyLister::NextPage);

  nb::class_<PyPlan>(m, "Plan")
      .def(nb::init<const std::vector<std::string>&, const PlanOptions&,
                    const StorageOptionsByScheme&>(),
           "inputs"_a, "options"_a, "storage_options"_a)
      .def("next", &PyPlan::Next, "n"_a)
      .def_prop_ro("list_pages", &PyPlan::list_pages);

  nb::class_<Partition>(m, "Partition",
                        "One partition of a plan: its object and nominal byte range, read-only. "
                        "Pickled as its field values; the plan's options travel apart.")
      .def_static("whole_object", &WholeObject, "uri"_a, "size"_a, "etag"_a,
                  "The whole of one object as stored, from what a listing or a Head told.")
      .def_ro("uri", &Partition::uri)
      .def_ro("scheme", &Partition::scheme)
      .def_ro("bucket", &Partition::bucket)
      .def_ro("key", &Partition::key)
      .def_ro("size", &Partition::size)
      .def_ro("etag", &Partition::etag)
      .def_ro("part", &Partition::part)
      .def_ro("total_parts", &Partition::total_parts)
      .def_ro("start", &Partition::start)
      .def_ro("stop", &Partition::stop)
      .def_prop_ro("compression",
                   [](const Partition& p) { return std::string(CompressionName(p.compression)); })
      .def("__getstate__", [](const Partition& p) { return StateOf(p); })
      .def("__setstate__",
           [](Partition& p, const PartitionState& state) {
             new (&p) Partition(PartitionFromState(state));
           })
      .def("__eq__",
           [](const Partition& a, const Partition& b) { return StateOf(a) == StateOf(b); })
      .def("__hash__", [](const Partition& p) {
        return std::hash<std::string>()(p.uri) ^ (std::hash<uint64_t>()(p.part) << 1);
      });

  nb::class_<PyStream>(m, "Stream")
      .def(nb::init<const Partition&, const PlanOptions&, const StorageOptionsByScheme&,
                    std::optional<std::pair<uint64_t, uint64_t>>>(),
           "partition"_a, "options"_a, "storage_options"_a, "byte_range"_a = nb::none())
      .def("readinto", &PyStream::ReadInto, "buffer"_a)
      .def("read", &PyStream::Read, "n"_a = -1)
      .def("read_chunk", &PyStream::ReadChunk, "max"_a = -1)
      .def("readline", &PyStream::ReadLine)
      .def("readlines", &PyStream::ReadLines, "max"_a)
      .def("count_records", &PyStream::CountRecords)
      .def("seek", &PyStream::Seek, "pos"_a)
      .def("tell", &PyStream::Tell)
      .def_prop_ro("size", &PyStream::Size)
      .def_prop_ro("header", &PyStream::Header)
      .def_prop_ro("bytes_fetched", &PyStream::BytesFetched);
}
