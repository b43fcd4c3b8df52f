#include "quarry/store_util.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace quarry {

Status BufferSink::Write(const char* data, size_t size) {
  if (size > capacity_ - size_) {
    return Internal("read returned more bytes than requested");
  }
  std::memcpy(data_ + size_, data, size);
  size_ += size;
  return Status::Ok();
}

Result<std::string> ReadToString(ObjectStore& store, std::string_view bucket, std::string_view key,
                                 uint64_t offset, uint64_t length, const ReadOptions& options) {
  std::string out;
  if (length != UINT64_MAX && length <= (64ull << 20)) out.reserve(length);
  StringSink sink(&out);
  QUARRY_RETURN_IF_ERROR(store.ReadRange(bucket, key, offset, length, &sink, options).status());
  return out;
}

Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, std::string_view bucket,
                                        std::string_view prefix, const ListOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(auto lister, store.List(bucket, prefix, options));
  std::vector<ObjectInfo> all;
  ListPage page;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    if (!more) break;
    for (auto& o : page.objects) all.push_back(std::move(o));
  }
  return all;
}

Result<uint64_t> DeletePrefix(ObjectStore& store, std::string_view bucket,
                              std::string_view prefix) {
  QUARRY_ASSIGN_OR_RETURN(auto lister, store.List(bucket, prefix, {}));
  uint64_t count = 0;
  ListPage page;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    if (!more) break;
    std::vector<std::string> keys;
    keys.reserve(page.objects.size());
    for (auto& o : page.objects) keys.push_back(std::move(o.key));
    QUARRY_RETURN_IF_ERROR(store.DeleteObjects(bucket, keys));
    count += keys.size();
  }
  return count;
}

Result<uint64_t> ParallelRead(ObjectStore& store, std::string_view bucket, std::string_view key,
                              uint64_t offset, uint64_t length, const ParallelReadOptions& options,
                              const std::function<Status(std::string_view part)>& consume) {
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const uint64_t parts = length == 0 ? 0 : (length + part - 1) / part;
  const std::string b(bucket), k(key);
  // Part buffers are reused: fresh multi-MiB allocations cost a page fault per 4 KiB on first
  // touch, which measured slower than the network on loopback.
  std::mutex pool_mu;
  std::vector<std::unique_ptr<std::string>> pool;
  auto take_buffer = [&] {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool.empty()) return std::make_unique<std::string>();
    auto buf = std::move(pool.back());
    pool.pop_back();
    return buf;
  };
  using PartResult = std::pair<Status, std::unique_ptr<std::string>>;
  std::deque<std::future<PartResult>> in_flight;
  uint64_t next = 0, consumed = 0;
  auto launch = [&]() {
    const uint64_t start = offset + next * part;
    const uint64_t len = std::min(part, length - next * part);
    ++next;
    in_flight.push_back(std::async(std::launch::async, [&, start, len] {
      auto buf = take_buffer();
      buf->clear();
      buf->reserve(len);
      StringSink sink(buf.get());
      Status s = store.ReadRange(b, k, start, len, &sink, options.read).status();
      return PartResult(std::move(s), std::move(buf));
    }));
  };
  Status failure;
  while (consumed < parts) {
    while (failure.ok() && next < parts &&
           in_flight.size() < static_cast<size_t>(std::max(1, options.max_in_flight))) {
      launch();
    }
    if (in_flight.empty()) break;
    auto [status, buf] = in_flight.front().get();
    in_flight.pop_front();
    if (!status.ok()) {
      failure = status;
      break;
    }
    const uint64_t expected = std::min(part, length - consumed * part);
    ++consumed;
    Status s = consume(*buf);
    if (!s.ok()) {
      failure = s;
      break;
    }
    // A short part means the object ended early (it shrank): stop rather than read holes.
    const bool short_part = buf->size() < expected;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      pool.push_back(std::move(buf));
    }
    if (short_part) break;
  }
  for (auto& f : in_flight) (void)f.get();
  if (!failure.ok()) return failure;
  return std::min(length, consumed * part);
}

Status CopyObject(ObjectStore& src, std::string_view src_bucket, std::string_view src_key,
                  uint64_t size, ObjectStore& dst, std::string_view dst_bucket,
                  std::string_view dst_key, const ParallelReadOptions& options) {
  if (size <= options.part_size) {
    QUARRY_ASSIGN_OR_RETURN(auto data,
                            ReadToString(src, src_bucket, src_key, 0, UINT64_MAX, options.read));
    return dst.Put(dst_bucket, dst_key, data);
  }
  QUARRY_ASSIGN_OR_RETURN(auto writer, dst.OpenWriter(dst_bucket, dst_key));
  QUARRY_RETURN_IF_ERROR(
      ParallelRead(src, src_bucket, src_key, 0, size, options, [&](std::string_view part) {
        return writer->Write(part);
      }).status());
  return writer->Close();
}

Status ParallelFor(size_t count, int threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  size_t first_bad = count;
  Status first_status;
  auto worker = [&] {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_bad) {
          first_bad = i;
          first_status = s;
        }
        failed = true;
      }
    }
  };
  const size_t n = std::min<size_t>(count, static_cast<size_t>(std::max(1, threads)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(worker);
  if (n > 0) worker();
  for (auto& t : pool) t.join();
  return first_status;
}

}  // namespace quarry
