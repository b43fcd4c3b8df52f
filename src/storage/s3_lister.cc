#include "storage/s3_lister.h"

#include <utility>
#include <vector>

#include "storage/s3_xml.h"

namespace quarry {
namespace {

class S3Lister final : public Lister {
 public:
  S3Lister(std::shared_ptr<S3Client> client, std::string bucket, std::string prefix,
           ListOptions options)
      : client_(std::move(client)),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        options_(std::move(options)) {}

  Result<bool> Next(ListPage* page) override {
    page->objects.clear();
    page->common_prefixes.clear();
    if (done_) return false;
    std::vector<std::pair<std::string, std::string>> query = {
        {"list-type", "2"},
        {"encoding-type", "url"},
        {"max-keys", std::to_string(options_.page_size)},
        {"prefix", prefix_}};
    if (!options_.delimiter.empty()) query.emplace_back("delimiter", options_.delimiter);
    if (!continuation_.empty()) {
      query.emplace_back("continuation-token", continuation_);
    } else if (!options_.start_after.empty()) {
      query.emplace_back("start-after", options_.start_after);
    }
    QUARRY_ASSIGN_OR_RETURN(
        auto resp,
        client_->Send(
            {.method = "GET", .bucket = bucket_, .on_bucket = true, .query = std::move(query)}));
    if (resp.status != 200) return client_->ErrorFor("list", bucket_, prefix_, resp);
    auto parsed = ParseListObjectsV2(resp.body);
    if (!parsed.ok()) {
      return Status(StatusCode::kIoError, "list " + client_->settings().scheme + "://" + bucket_ +
                                              "/" + prefix_ + ": malformed reply from " +
                                              client_->endpoint() + ": " +
                                              parsed.status().message());
    }
    *page = std::move(parsed->page);
    const bool truncated = parsed->truncated;
    continuation_ = std::move(parsed->next_continuation_token);
    if (!truncated || continuation_.empty()) done_ = true;
    return true;
  }

 private:
  std::shared_ptr<S3Client> client_;
  std::string bucket_, prefix_;
  ListOptions options_;
  std::string continuation_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<Lister> MakeS3Lister(std::shared_ptr<S3Client> client, std::string bucket,
                                     std::string prefix, ListOptions options) {
  return std::make_unique<S3Lister>(std::move(client), std::move(bucket), std::move(prefix),
                                    std::move(options));
}

}  // namespace quarry
