#include "partition/decoding_stream.h"

#include <string>

#include "partition/chunk_stream.h"
#include "partition/compression.h"

namespace quarry {
namespace {

class DecodingStream final : public ChunkStream {
 public:
  DecodingStream(std::shared_ptr<ObjectStore> store, Partition p, Compression compression,
                 std::unique_ptr<RangeFetcher> fetcher)
      : ChunkStream(std::move(store), std::move(p)), compression_(compression) {
    ReplaceFetcher(std::move(fetcher));
  }

  // Decodes from `head`, the object's first bytes, on; takes the header record when there is
  // one.
  Status Begin(std::string_view head) {
    QUARRY_ASSIGN_OR_RETURN(decoder_, MakeDecoder(compression_, p_.uri));
    std::string& decoded = FreshDecoded();
    QUARRY_RETURN_IF_ERROR(decoder_->Decode(head, &decoded));
    if (head.empty()) QUARRY_RETURN_IF_ERROR(decoder_->Finish());
    SetChunk(decoded, 0);
    if (p_.header) return TakeHeaderRecord();
    return Status::Ok();
  }

  Status Seek(uint64_t pos) override {
    if (SeekInChunk(pos)) return Status::Ok();
    // Compressed data cannot be entered in the middle: go there by decoding, from the start
    // when it lies behind.
    if (pos < Tell()) QUARRY_RETURN_IF_ERROR(Restart());
    return Skip(pos - Tell());
  }

  std::optional<uint64_t> Size() const override {
    if (!source_done_) return std::nullopt;
    return chunk_end();
  }

 private:
  Status Restart() {
    SetChunk({}, 0);
    header_.reset();
    source_done_ = false;
    ReplaceFetcher(WholeObjectFetcher(store_, p_));
    QUARRY_ASSIGN_OR_RETURN(auto head, FetchHead(*fetcher_));
    return Begin(head);
  }

  Result<std::string_view> NextData() override {
    while (!source_done_) {
      QUARRY_ASSIGN_OR_RETURN(auto raw, fetcher_->Next());
      if (raw.empty()) {
        source_done_ = true;
        QUARRY_RETURN_IF_ERROR(decoder_->Finish());
        break;
      }
      std::string& decoded = FreshDecoded();
      QUARRY_RETURN_IF_ERROR(decoder_->Decode(raw, &decoded));
      if (!decoded.empty()) return std::string_view(decoded);
    }
    return std::string_view();
  }

  // The decoder takes the fetched bytes in order.
  uint64_t FetchOffset() const override { return fetcher_->position(); }

  std::shared_ptr<const void> ChunkOwner() const override { return decoded_; }

  // An empty buffer for decoded bytes: the last one, unless a shared chunk still holds it.
  std::string& FreshDecoded() {
    if (!decoded_ || decoded_.use_count() > 1) {
      decoded_ = std::make_shared<std::string>();
    } else {
      decoded_->clear();
    }
    return *decoded_;
  }

  const Compression compression_;
  std::unique_ptr<Decoder> decoder_;
  std::shared_ptr<std::string> decoded_;  // the current chunk's bytes
  bool source_done_ = false;              // every compressed byte went to the decoder
};

}  // namespace

Result<std::unique_ptr<DataStream>> OpenDecodingStream(std::shared_ptr<ObjectStore> store,
                                                       const Partition& p, Compression compression,
                                                       std::unique_ptr<RangeFetcher> fetcher,
                                                       std::string_view head) {
  auto stream =
      std::make_unique<DecodingStream>(std::move(store), p, compression, std::move(fetcher));
  QUARRY_RETURN_IF_ERROR(stream->Begin(head));
  return std::unique_ptr<DataStream>(std::move(stream));
}

}  // namespace quarry
