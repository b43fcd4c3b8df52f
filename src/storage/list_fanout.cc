#include "quarry/list_fanout.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>

#include "quarry/request_counters.h"

namespace quarry {

namespace {

// Pages of one sub-prefix, listed on a thread of its own, at most `ahead` pages in advance.
class SubListing {
 public:
  SubListing(ObjectStore& store, std::string bucket, std::string prefix, size_t ahead,
             int page_size)
      : ahead_(std::max<size_t>(1, ahead)) {
    ListOptions options;
    options.page_size = page_size;
    thread_ = std::thread([this, &store, bucket = std::move(bucket), prefix = std::move(prefix),
                           options, counters = CurrentRequestCountersShared()] {
      CountRequestsInto count(counters);
      Run(store, bucket, prefix, options);
    });
  }
  ~SubListing() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SubListing(const SubListing&) = delete;
  SubListing& operator=(const SubListing&) = delete;

  // The next page; false when the sub-prefix is done.
  Result<bool> Next(ListPage* page) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !pages_.empty() || done_; });
    if (!pages_.empty()) {
      *page = std::move(pages_.front());
      pages_.pop_front();
      cv_.notify_all();
      return true;
    }
    if (!status_.ok()) return status_;
    return false;
  }

 private:
  void Run(ObjectStore& store, const std::string& bucket, const std::string& prefix,
           const ListOptions& options) {
    Status status;
    auto lister = store.List(bucket, prefix, options);
    if (!lister.ok()) status = lister.status();
    while (status.ok()) {
      ListPage page;
      auto more = (*lister)->Next(&page);
      if (!more.ok()) status = more.status();
      if (!more.ok() || !*more) break;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return pages_.size() < ahead_ || cancelled_; });
      if (cancelled_) break;
      pages_.push_back(std::move(page));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }

  const size_t ahead_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ListPage> pages_;  // guarded by mu_, as are the three below
  bool done_ = false;
  bool cancelled_ = false;
  Status status_;
  std::thread thread_;
};

class FanOutLister final : public Lister {
 public:
  FanOutLister(ObjectStore& store, std::string bucket, std::string prefix, FanOutOptions options)
      : store_(store), bucket_(std::move(bucket)), prefix_(std::move(prefix)), options_(options) {}

  Result<bool> Next(ListPage* page) override {
    if (!started_) {
      started_ = true;
      QUARRY_ASSIGN_OR_RETURN(bool produced, Start(page));
      if (flat_) return produced;  // the plain listing's first page, if there was one
    }
    if (flat_) return flat_->Next(page);
    return NextSegment(page);
  }

 private:
  // One piece of the output in key order: objects directly under a level, or a sub-prefix.
  struct Segment {
    std::vector<ObjectInfo> objects;
    std::string prefix;  // non-empty: a sub-prefix, listed in parallel
  };

  // Lists the first plain page into `first` and decides: plain listing (flat_ set; returns
  // whether `first` holds a page) or fan-out (segments_ set).
  Result<bool> Start(ListPage* first) {
    ListOptions plain;
    plain.page_size = options_.page_size;
    QUARRY_ASSIGN_OR_RETURN(auto flat, store_.List(bucket_, prefix_, plain));
    QUARRY_ASSIGN_OR_RETURN(bool more, flat->Next(first));
    flat_ = std::move(flat);
    if (!more || first->objects.size() < static_cast<size_t>(plain.page_size)) return more;
    // A page full: probably many keys. Look for sub-prefixes, through lone ones.
    std::string level = prefix_;
    for (int depth = 0; depth < 8; ++depth) {
      ListOptions delimited;
      delimited.delimiter = "/";
      delimited.page_size = options_.page_size;
      QUARRY_ASSIGN_OR_RETURN(auto lister, store_.List(bucket_, level, delimited));
      ListPage dir;
      QUARRY_ASSIGN_OR_RETURN(bool any, lister->Next(&dir));
      if (!any) return true;
      const size_t entries = dir.objects.size() + dir.common_prefixes.size();
      if (entries >= static_cast<size_t>(delimited.page_size)) return true;  // > 1 page
      if (dir.common_prefixes.size() == 1 && dir.objects.empty()) {
        level = dir.common_prefixes[0];
        continue;
      }
      if (dir.common_prefixes.size() < 2 || dir.common_prefixes.size() > options_.max_prefixes) {
        return true;
      }
      BuildSegments(std::move(dir));
      flat_.reset();
      first->objects.clear();
      first->common_prefixes.clear();
      return true;
    }
    return true;
  }

  // Objects and sub-prefixes merged in key order: every key under a sub-prefix P sorts after P
  // and before any other string greater than P, so comparing with P itself places them.
  void BuildSegments(ListPage dir) {
    size_t o = 0;
    for (auto& p : dir.common_prefixes) {
      std::vector<ObjectInfo> before;
      while (o < dir.objects.size() && dir.objects[o].key < p) {
        before.push_back(std::move(dir.objects[o++]));
      }
      if (!before.empty()) segments_.push_back({std::move(before), {}});
      segments_.push_back({{}, std::move(p)});
    }
    std::vector<ObjectInfo> rest(std::make_move_iterator(dir.objects.begin() + o),
                                 std::make_move_iterator(dir.objects.end()));
    if (!rest.empty()) segments_.push_back({std::move(rest), {}});
  }

  // Keeps up to max_parallel sub-listings running from the current segment on.
  void Launch() {
    while (launched_ < segments_.size() &&
           running_.size() < static_cast<size_t>(std::max(1, options_.max_parallel))) {
      const Segment& s = segments_[launched_++];
      if (s.prefix.empty()) continue;
      running_.push_back(std::make_unique<SubListing>(store_, bucket_, s.prefix,
                                                      options_.pages_ahead, options_.page_size));
    }
  }

  Result<bool> NextSegment(ListPage* page) {
    page->objects.clear();
    page->common_prefixes.clear();
    while (next_ < segments_.size()) {
      Launch();
      Segment& s = segments_[next_];
      if (s.prefix.empty()) {
        page->objects = std::move(s.objects);
        ++next_;
        return true;
      }
      QUARRY_ASSIGN_OR_RETURN(bool more, running_.front()->Next(page));
      if (more) return true;
      running_.pop_front();
      ++next_;
    }
    return false;
  }

  ObjectStore& store_;
  std::string bucket_, prefix_;
  FanOutOptions options_;
  bool started_ = false;
  std::unique_ptr<Lister> flat_;  // set: plain listing
  std::vector<Segment> segments_;
  size_t next_ = 0;                                  // segment being handed out
  size_t launched_ = 0;                              // segments looked at by Launch()
  std::deque<std::unique_ptr<SubListing>> running_;  // of segments [next_, launched_), in order
};

}  // namespace

Result<std::unique_ptr<Lister>> ListFanOut(ObjectStore& store, std::string_view bucket,
                                           std::string_view prefix, const FanOutOptions& options) {
  return std::unique_ptr<Lister>(
      new FanOutLister(store, std::string(bucket), std::string(prefix), options));
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

}  // namespace quarry
