// In-memory backend: a process-wide map of buckets, for tests and local pipelines.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "auth/sigv4.h"
#include "quarry/key_rules.h"
#include "storage/backends.h"

namespace quarry {
namespace {

struct MemObject {
  std::shared_ptr<const std::string> data;
  std::string etag;
  std::string last_modified;
  PutOptions meta;
};

std::string NowIso() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

class MemStore final : public ObjectStore {
 public:
  std::string_view scheme() const override { return "mem"; }
  std::string endpoint() const override { return "memory"; }

  Result<std::unique_ptr<Lister>> List(std::string_view bucket, std::string_view prefix,
                                       const ListOptions& options) override;

  Result<ObjectInfo> Head(std::string_view bucket, std::string_view key) override {
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(scheme(), bucket, key));
    std::shared_lock lock(mu_);
    QUARRY_ASSIGN_OR_RETURN(auto* objects, FindBucket(bucket));
    auto it = objects->find(std::string(key));
    if (it == objects->end()) return MissingKey(bucket, key);
    return Info(it->first, it->second);
  }

  Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    QUARRY_RETURN_IF_ERROR(CheckObjectKey(scheme(), bucket, key));
    std::shared_ptr<const std::string> data;
    ObjectInfo info;
    {
      std::shared_lock lock(mu_);
      QUARRY_ASSIGN_OR_RETURN(auto* objects, FindBucket(bucket));
      auto it = objects->find(std::string(key));
      if (it == objects->end()) return MissingKey(bucket, key);
      if (!options.if_match.empty() && options.if_match != it->second.etag) {
        return Status(StatusCode::kPreconditionFailed,
                      "read mem://" + std::string(bucket) + "/" + std::string(key) +
                          ": the object changed while it was being read (ETag no longer "
                          "matches): rerun the job on the new version");
      }
      data = it->second.data;
      info = Info(it->first, it->second);
    }
    if (offset >= data->size()) return uint64_t{0};
    uint64_t n = std::min<uint64_t>(length, data->size() - offset);
    sink->OnObject(info);
    QUARRY_RETURN_IF_ERROR(sink->Write(data->data() + offset, n));
    return n;
  }

  using ObjectStore::Put;
  Status Put(std::string_view bucket, std::string_view key, std::string_view data,
             const PutOptions& options) override {
    MemObject obj{std::make_shared<const std::string>(data), auth::Sha256Hex(data).substr(0, 32),
                  NowIso(), options};
    std::unique_lock lock(mu_);
    auto b = buckets_.find(std::string(bucket));
    if (b == buckets_.end()) return MissingBucket(bucket);
    b->second[std::string(key)] = std::move(obj);
    return Status::Ok();
  }

  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view bucket, std::string_view key,
                                                   const PutOptions& options) override {
    class Writer final : public ObjectWriter {
     public:
      Writer(MemStore* store, std::string bucket, std::string key, PutOptions options)
          : store_(store),
            bucket_(std::move(bucket)),
            key_(std::move(key)),
            options_(std::move(options)) {}
      Status Write(std::string_view data) override {
        buffer_.append(data);
        return Status::Ok();
      }
      Status Close() override { return store_->Put(bucket_, key_, buffer_, options_); }

     private:
      MemStore* store_;
      std::string bucket_, key_, buffer_;
      PutOptions options_;
    };
    {
      std::shared_lock lock(mu_);
      QUARRY_RETURN_IF_ERROR(FindBucket(bucket).status());
    }
    return std::unique_ptr<ObjectWriter>(
        new Writer(this, std::string(bucket), std::string(key), options));
  }

  Status DeleteObjects(std::string_view bucket, const std::vector<std::string>& keys) override {
    std::unique_lock lock(mu_);
    auto b = buckets_.find(std::string(bucket));
    if (b == buckets_.end()) return MissingBucket(bucket);
    for (const auto& k : keys) b->second.erase(k);
    return Status::Ok();
  }

  Result<std::vector<BucketInfo>> ListBuckets() override {
    std::shared_lock lock(mu_);
    std::vector<BucketInfo> out;
    for (const auto& entry : buckets_) out.push_back({entry.first, ""});
    return out;
  }

  Status CreateBucket(std::string_view bucket) override {
    if (bucket.empty()) return InvalidArgument("mem URIs need a bucket: mem://bucket/key");
    std::unique_lock lock(mu_);
    buckets_[std::string(bucket)];
    return Status::Ok();
  }

  Status DeleteBucket(std::string_view bucket) override {
    std::unique_lock lock(mu_);
    auto b = buckets_.find(std::string(bucket));
    if (b == buckets_.end()) return MissingBucket(bucket);
    if (!b->second.empty()) {
      return InvalidArgument("bucket mem://" + std::string(bucket) + " is not empty");
    }
    buckets_.erase(b);
    return Status::Ok();
  }

  // Copies up to `limit` entries with key > `after` and the prefix, under the lock.
  Status Page(const std::string& bucket, const std::string& prefix, const std::string& after,
              size_t limit, std::vector<ObjectInfo>* out, bool* more) {
    std::shared_lock lock(mu_);
    QUARRY_ASSIGN_OR_RETURN(auto* objects, FindBucket(bucket));
    auto it = after.empty() ? objects->lower_bound(prefix) : objects->upper_bound(after);
    if (it != objects->end() && it->first < prefix) it = objects->lower_bound(prefix);
    *more = false;
    for (; it != objects->end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (out->size() == limit) {
        *more = true;
        break;
      }
      out->push_back(Info(it->first, it->second));
    }
    return Status::Ok();
  }

 private:
  using Objects = std::map<std::string, MemObject>;

  static ObjectInfo Info(const std::string& key, const MemObject& obj) {
    return ObjectInfo{key,
                      obj.data->size(),
                      obj.etag,
                      obj.last_modified,
                      obj.meta.content_type,
                      obj.meta.content_encoding};
  }
  static Status MissingBucket(std::string_view bucket) {
    return NotFound("bucket '" + std::string(bucket) +
                    "' does not exist in memory: create it first (quarry mb mem://" +
                    std::string(bucket) + ")");
  }
  static Status MissingKey(std::string_view bucket, std::string_view key) {
    return NotFound("no object with key '" + std::string(key) + "' in bucket mem://" +
                    std::string(bucket));
  }
  Result<Objects*> FindBucket(std::string_view bucket) {
    auto b = buckets_.find(std::string(bucket));
    if (b == buckets_.end()) return MissingBucket(bucket);
    return &b->second;
  }

  std::shared_mutex mu_;
  std::map<std::string, Objects> buckets_;
};

// Pages through the map; with a delimiter, keys below the next delimiter fold into a prefix.
class MemLister final : public Lister {
 public:
  MemLister(MemStore* store, std::string bucket, std::string prefix, ListOptions options)
      : store_(store),
        bucket_(std::move(bucket)),
        prefix_(std::move(prefix)),
        options_(std::move(options)),
        after_(options_.start_after) {}

  Result<bool> Next(ListPage* page) override {
    page->objects.clear();
    page->common_prefixes.clear();
    if (done_) return false;
    const size_t limit = static_cast<size_t>(std::max(1, options_.page_size));
    while (page->objects.size() + page->common_prefixes.size() < limit) {
      std::vector<ObjectInfo> batch;
      bool more = false;
      QUARRY_RETURN_IF_ERROR(store_->Page(bucket_, prefix_, after_, limit, &batch, &more));
      if (batch.empty()) {
        done_ = true;
        break;
      }
      for (auto& info : batch) {
        after_ = info.key;
        if (!options_.delimiter.empty()) {
          auto pos = info.key.find(options_.delimiter, prefix_.size());
          if (pos != std::string::npos) {
            std::string cp = info.key.substr(0, pos + options_.delimiter.size());
            if (page->common_prefixes.empty() || page->common_prefixes.back() != cp) {
              if (last_prefix_ != cp) page->common_prefixes.push_back(cp);
              last_prefix_ = cp;
            }
            continue;
          }
        }
        page->objects.push_back(std::move(info));
        if (page->objects.size() + page->common_prefixes.size() >= limit) break;
      }
      if (!more && after_ == batch.back().key) {
        done_ = true;
        break;
      }
    }
    return true;
  }

 private:
  MemStore* store_;
  std::string bucket_, prefix_;
  ListOptions options_;
  std::string after_;
  std::string last_prefix_;
  bool done_ = false;
};

Result<std::unique_ptr<Lister>> MemStore::List(std::string_view bucket, std::string_view prefix,
                                               const ListOptions& options) {
  return std::unique_ptr<Lister>(
      new MemLister(this, std::string(bucket), std::string(prefix), options));
}

}  // namespace

std::shared_ptr<ObjectStore> MakeMemStore() {
  static auto* store = new std::shared_ptr<ObjectStore>(std::make_shared<MemStore>());
  return *store;
}

BackendSpec MemBackendSpec() {
  BackendSpec spec;
  spec.config.scheme = "mem";
  spec.make = [](const StorageOptions&) -> Result<std::shared_ptr<ObjectStore>> {
    return MakeMemStore();
  };
  spec.configurable = false;
  return spec;
}

}  // namespace quarry
