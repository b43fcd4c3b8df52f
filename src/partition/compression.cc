#include "partition/compression.h"

#include <bzlib.h>
#include <zlib.h>
#include <zstd.h>

#include <cctype>

namespace quarry {

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kBzip2: return "bzip2";
  }
  return "none";
}

Compression CompressionFromName(std::string_view name) {
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kBzip2}) {
    if (name == CompressionName(c)) return c;
  }
  return Compression::kNone;
}

Compression CompressionFromMagic(std::string_view h) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(h[i]); };
  if (h.size() >= 2 && at(0) == 0x1f && at(1) == 0x8b) return Compression::kGzip;
  if (h.size() >= 4 && at(0) == 0x28 && at(1) == 0xb5 && at(2) == 0x2f && at(3) == 0xfd) {
    return Compression::kZstd;
  }
  if (h.size() >= 4 && h.substr(0, 3) == "BZh" && at(3) >= '1' && at(3) <= '9') {
    return Compression::kBzip2;
  }
  return Compression::kNone;
}

Compression CompressionFromSuffix(std::string_view key) {
  auto ends = [&](std::string_view s) {
    return key.size() >= s.size() && key.substr(key.size() - s.size()) == s;
  };
  if (ends(".gz") || ends(".gzip")) return Compression::kGzip;
  if (ends(".zst") || ends(".zstd")) return Compression::kZstd;
  if (ends(".bz2") || ends(".bzip2")) return Compression::kBzip2;
  return Compression::kNone;
}

Compression CompressionFromContentEncoding(std::string_view ce) {
  // Codings are listed in the order applied; the last one is undone first.
  if (auto comma = ce.rfind(','); comma != std::string_view::npos) ce.remove_prefix(comma + 1);
  while (!ce.empty() && (ce.front() == ' ' || ce.front() == '\t')) ce.remove_prefix(1);
  while (!ce.empty() && (ce.back() == ' ' || ce.back() == '\t')) ce.remove_suffix(1);
  std::string lower(ce);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // The gzip decoder also takes zlib streams, which is what HTTP's "deflate" coding is.
  if (lower == "gzip" || lower == "x-gzip" || lower == "deflate") return Compression::kGzip;
  if (lower == "zstd") return Compression::kZstd;
  if (lower == "bzip2" || lower == "x-bzip2") return Compression::kBzip2;
  return Compression::kNone;
}

Compression DetectCompression(std::string_view head, std::string_view key,
                              std::string_view content_encoding) {
  if (Compression c = CompressionFromMagic(head); c != Compression::kNone) return c;
  if (Compression c = CompressionFromSuffix(key); c != Compression::kNone) return c;
  return CompressionFromContentEncoding(content_encoding);
}

namespace {

constexpr size_t kOutChunk = size_t{256} * 1024;

class GzipDecoder final : public Decoder {
 public:
  explicit GzipDecoder(std::string what) : what_(std::move(what)) {}
  ~GzipDecoder() override { inflateEnd(&z_); }
  Status Init() {
    if (inflateInit2(&z_, 15 + 32) != Z_OK) return Internal("zlib init failed");
    return Status::Ok();
  }
  Status Decode(std::string_view input, std::string* out) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    z_.avail_in = static_cast<uInt>(input.size());
    while (z_.avail_in > 0) {
      size_t base = out->size();
      out->resize(base + kOutChunk);
      z_.next_out = reinterpret_cast<Bytef*>(out->data() + base);
      z_.avail_out = kOutChunk;
      int rc = inflate(&z_, Z_NO_FLUSH);
      out->resize(base + (kOutChunk - z_.avail_out));
      if (rc == Z_STREAM_END) {
        ended_ = true;
        if (z_.avail_in > 0) {  // another gzip member follows
          inflateReset(&z_);
          ended_ = false;
        }
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return IoError("gzip data of " + what_ + " is corrupt (" +
                       (z_.msg ? z_.msg : "inflate error") + "): read it with decompress=False");
      }
      ended_ = false;
      if (rc == Z_BUF_ERROR && z_.avail_out != 0) break;
    }
    return Status::Ok();
  }
  Status Finish() override {
    if (!ended_) return IoError("gzip data of " + what_ + " ends early (truncated object)");
    return Status::Ok();
  }

 private:
  std::string what_;
  z_stream z_{};
  bool ended_ = false;
};

class ZstdDecoder final : public Decoder {
 public:
  explicit ZstdDecoder(std::string what) : what_(std::move(what)), ctx_(ZSTD_createDCtx()) {}
  ~ZstdDecoder() override { ZSTD_freeDCtx(ctx_); }
  Status Decode(std::string_view input, std::string* out) override {
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    while (in.pos < in.size || pending_) {
      size_t base = out->size();
      out->resize(base + kOutChunk);
      ZSTD_outBuffer o{out->data() + base, kOutChunk, 0};
      size_t rc = ZSTD_decompressStream(ctx_, &o, &in);
      out->resize(base + o.pos);
      if (ZSTD_isError(rc)) {
        return IoError("zstd data of " + what_ + " is corrupt (" + ZSTD_getErrorName(rc) +
                       "): read it with decompress=False");
      }
      last_ = rc;
      pending_ = o.pos == kOutChunk;  // output full: more may be buffered inside
      if (!pending_ && in.pos == in.size) break;
    }
    return Status::Ok();
  }
  Status Finish() override {
    if (last_ != 0) return IoError("zstd data of " + what_ + " ends early (truncated object)");
    return Status::Ok();
  }

 private:
  std::string what_;
  ZSTD_DCtx* ctx_;
  size_t last_ = 0;
  bool pending_ = false;
};

class Bzip2Decoder final : public Decoder {
 public:
  explicit Bzip2Decoder(std::string what) : what_(std::move(what)) {}
  ~Bzip2Decoder() override {
    if (open_) BZ2_bzDecompressEnd(&s_);
  }
  Status Decode(std::string_view input, std::string* out) override {
    s_.next_in = const_cast<char*>(input.data());
    s_.avail_in = static_cast<unsigned>(input.size());
    while (s_.avail_in > 0 || more_out_) {
      if (!open_) {
        if (BZ2_bzDecompressInit(&s_, 0, 0) != BZ_OK) return Internal("bzip2 init failed");
        open_ = true;
        ended_ = false;
      }
      size_t base = out->size();
      out->resize(base + kOutChunk);
      s_.next_out = out->data() + base;
      s_.avail_out = kOutChunk;
      int rc = BZ2_bzDecompress(&s_);
      out->resize(base + (kOutChunk - s_.avail_out));
      more_out_ = s_.avail_out == 0;
      if (rc == BZ_STREAM_END) {
        // Concatenated streams (pbzip2): start again on what is left.
        char* rest = s_.next_in;
        unsigned left = s_.avail_in;
        BZ2_bzDecompressEnd(&s_);
        open_ = false;
        ended_ = true;
        more_out_ = false;
        s_ = bz_stream{};
        s_.next_in = rest;
        s_.avail_in = left;
        continue;
      }
      if (rc != BZ_OK) {
        return IoError("bzip2 data of " + what_ + " is corrupt (code " + std::to_string(rc) +
                       "): read it with decompress=False");
      }
      if (!more_out_ && s_.avail_in == 0) break;
    }
    return Status::Ok();
  }
  Status Finish() override {
    if (!ended_ || open_)
      return IoError("bzip2 data of " + what_ + " ends early (truncated object)");
    return Status::Ok();
  }

 private:
  std::string what_;
  bz_stream s_{};
  bool open_ = false;
  bool ended_ = false;
  bool more_out_ = false;
};

}  // namespace

Result<std::unique_ptr<Decoder>> MakeDecoder(Compression c, std::string what) {
  switch (c) {
    case Compression::kGzip: {
      auto d = std::make_unique<GzipDecoder>(std::move(what));
      QUARRY_RETURN_IF_ERROR(d->Init());
      return std::unique_ptr<Decoder>(std::move(d));
    }
    case Compression::kZstd: return std::unique_ptr<Decoder>(new ZstdDecoder(std::move(what)));
    case Compression::kBzip2: return std::unique_ptr<Decoder>(new Bzip2Decoder(std::move(what)));
    case Compression::kNone: break;
  }
  return InvalidArgument("no decoder for uncompressed data");
}

}  // namespace quarry
