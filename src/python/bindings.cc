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

#include <cstring>

#include "auth/credentials.h"
#include "quarry/config.h"
#include "quarry/data_stream.h"
#include "quarry/plan.h"
#include "quarry/registry.h"
#include "quarry/store_util.h"
#include "storage/backends.h"

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
    ListOptions lo;
    if (!recursive) lo.delimiter = "/";
    nb::gil_scoped_release release;
    // A recursive listing fans out over sub-prefixes (same keys, same order).
    lister_ = Unwrap(recursive ? ListFanOut(*target_.store, target_.uri.bucket, target_.uri.key)
                               : target_.store->List(target_.uri.bucket, target_.uri.key, lo));
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

PlanOptions MakePlanOptions(const nb::dict& d) {
  PlanOptions o;
  for (auto [k, v] : d) {
    std::string key = nb::cast<std::string>(k);
    if (v.is_none()) continue;
    if (key == "chunk_size")
      o.chunk_size = nb::cast<uint64_t>(v);
    else if (key == "chunk_number")
      o.chunk_number = nb::cast<uint64_t>(v);
    else if (key == "newline")
      o.newline = nb::cast<std::string>(v);
    else if (key == "header")
      o.header = nb::cast<bool>(v);
    else if (key == "decompress")
      o.decompress = nb::cast<bool>(v);
    else if (key == "part_size")
      o.part_size = nb::cast<uint64_t>(v);
    else if (key == "readahead")
      o.readahead = nb::cast<int>(v);
    else if (key == "read_window")
      o.read_window = nb::cast<uint64_t>(v);
    else if (key == "storage_options")
      o.storage_options = nb::cast<StorageOptions>(v);
    else
      Raise(InvalidArgument("unknown plan option '" + key + "'"));
  }
  return o;
}

// A partition as plain values, for the Python Partition class.
nb::dict PartitionDict(const Partition& p) {
  nb::dict d;
  d["uri"] = p.uri;
  d["scheme"] = p.scheme;
  d["bucket"] = p.bucket;
  d["key"] = p.key;
  d["size"] = p.size;
  d["etag"] = p.etag;
  d["part"] = p.part;
  d["total_parts"] = p.total_parts;
  d["start"] = p.start;
  d["stop"] = p.stop;
  d["compression"] = std::string(CompressionName(p.compression));
  return d;
}

class PyPlan {
 public:
  PyPlan(const std::vector<std::string>& inputs, const nb::dict& options)
      : plan_(Unwrap(Plan::Build(inputs, MakePlanOptions(options)))) {}

  // Up to `n` more partitions (fewer only at the end).
  nb::list Next(size_t n) {
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
    nb::list out;
    for (const auto& p : batch) out.append(PartitionDict(p));
    return out;
  }
  uint64_t list_pages() const { return plan_.list_pages(); }

 private:
  Plan plan_;
};

Compression CompressionFromName(const std::string& name) {
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  if (name == "bzip2") return Compression::kBzip2;
  return Compression::kNone;
}

// Bytes of a copy worth releasing the GIL for: below it, giving the GIL up and taking it back
// (which may wait for another thread's turn) costs more than the copy.
constexpr size_t kCopyWithoutGilMin = size_t{64} * 1024;

// A partition's data stream. Every read waits and copies with the GIL released: read() fills a
// bytes object allocated up front, so the data is copied once, from the receive buffers.
class PyStream {
 public:
  // With `byte_range`, bytes [start, stop) of the object as stored (quarry.open), else the
  // partition's data.
  PyStream(const nb::dict& partition, const nb::dict& options,
           std::optional<std::pair<uint64_t, uint64_t>> byte_range) {
    Partition p;
    p.uri = nb::cast<std::string>(partition["uri"]);
    p.scheme = nb::cast<std::string>(partition["scheme"]);
    p.bucket = nb::cast<std::string>(partition["bucket"]);
    p.key = nb::cast<std::string>(partition["key"]);
    p.size = nb::cast<uint64_t>(partition["size"]);
    p.etag = nb::cast<std::string>(partition["etag"]);
    p.part = nb::cast<uint64_t>(partition["part"]);
    p.total_parts = nb::cast<uint64_t>(partition["total_parts"]);
    p.start = nb::cast<uint64_t>(partition["start"]);
    p.stop = nb::cast<uint64_t>(partition["stop"]);
    p.compression = CompressionFromName(nb::cast<std::string>(partition["compression"]));
    p.options = MakePlanOptions(options);
    p.newline = p.options.newline;
    p.header = p.options.header;
    if (byte_range) {
      Target target = Open(p.uri, p.options.storage_options);
      nb::gil_scoped_release release;
      stream_ =
          Unwrap(OpenByteRange(std::move(target.store), p, byte_range->first, byte_range->second));
      return;
    }
    nb::gil_scoped_release release;
    stream_ = Unwrap(p.Open());
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

// Request counters summed over every store this process has made.
nb::dict Stats() {
  StoreStats total;
  for (const auto& store : CachedStores()) {
    auto s = store->stats();
    total.requests += s.requests;
    total.retries += s.retries;
    total.bytes_received += s.bytes_received;
    total.bytes_sent += s.bytes_sent;
    total.connections_opened += s.connections_opened;
  }
  nb::dict d;
  d["requests"] = total.requests;
  d["retries"] = total.retries;
  d["bytes_received"] = total.bytes_received;
  d["bytes_sent"] = total.bytes_sent;
  d["connections_opened"] = total.connections_opened;
  return d;
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
      "resolve_storage_options",
      [](const std::string& scheme, const StorageOptions& options) {
        return Unwrap(ResolveStorageOptions(scheme, options, ConfigEnvironment::Process()));
      },
      "scheme"_a, "options"_a, "Resolves a scheme's configuration (options, env, files).");
  m.def("redacted", &RedactedString, "options"_a);
  m.def(
      "fetch_credentials",
      [](const std::string& scheme, const StorageOptions& options) {
        if (scheme != "s3" && scheme != "cos") return options;
        nb::gil_scoped_release release;
        return Unwrap(FetchShippableCredentials(scheme, options));
      },
      "scheme"_a, "options"_a,
      "Makes the token exchange of a configuration now (none for static keys) and returns the "
      "options with the credential added, for shipping to workers.");
  m.def("credential_fetch_count", &auth::CredentialFetchCount,
        "Token exchanges made by this process.");
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

  m.def(
      "get",
      [](const std::string& uri, const StorageOptions& options, uint64_t start,
         std::optional<uint64_t> stop) {
        auto t = Open(uri, options);
        std::string data;
        {
          nb::gil_scoped_release release;
          // One request for small objects; large ones go on as parallel ranged GETs, pinned
          // to the version the first response came from.
          data = Unwrap(ReadObject(*t.store, t.uri.bucket, t.uri.key, start, stop));
        }
        return nb::bytes(data.data(), data.size());
      },
      "uri"_a, "options"_a, "start"_a = 0, "stop"_a = nb::none());

  m.def(
      "put",
      [](const std::string& uri, nb::handle data, const StorageOptions& options,
         const std::string& content_type, const std::string& content_encoding) {
        BufferView view(data, PyBUF_SIMPLE);
        Status s;
        {
          nb::gil_scoped_release release;
          auto t = Open(uri, options);  // may throw: the view is still released
          std::string_view bytes(view.data(), view.size());
          auto writer = t.store->OpenWriter(t.uri.bucket, t.uri.key,
                                            PutOptions{content_type, content_encoding});
          if (!writer.ok()) {
            s = writer.status();
          } else {
            s = (*writer)->Write(bytes);
            if (s.ok()) s = (*writer)->Close();
          }
        }
        Check(s);
      },
      "uri"_a, "data"_a, "options"_a, "content_type"_a = "", "content_encoding"_a = "");

  m.def(
      "delete",
      [](const std::string& uri, bool recursive, const StorageOptions& options) -> uint64_t {
        auto t = Open(uri, options);
        nb::gil_scoped_release release;
        if (recursive) return Unwrap(DeletePrefix(*t.store, t.uri.bucket, t.uri.key));
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

  nb::class_<PyLister>(m, "Lister")
      .def(nb::init<const std::string&, const StorageOptions&, bool>(), "uri"_a, "options"_a,
           "recursive"_a = true)
      .def("next_page", &PyLister::NextPage);

  nb::class_<PyPlan>(m, "Plan")
      .def(nb::init<const std::vector<std::string>&, const nb::dict&>(), "inputs"_a, "options"_a)
      .def("next", &PyPlan::Next, "n"_a)
      .def_prop_ro("list_pages", &PyPlan::list_pages);

  nb::class_<PyStream>(m, "Stream")
      .def(nb::init<const nb::dict&, const nb::dict&,
                    std::optional<std::pair<uint64_t, uint64_t>>>(),
           "partition"_a, "options"_a, "byte_range"_a = nb::none())
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
