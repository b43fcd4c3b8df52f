// ListFanOut: sub-prefixes listed in parallel come out in the plain listing's key order, with
// the listings asked for that the layout calls for, and abandoning or failing cleanly.
#include "quarry/list_fanout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "quarry/registry.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

using testing_util::ForwardingStore;

// Records the listings asked for: "prefix" for plain ones, "prefix|/" for delimited ones.
class RecordingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::unique_ptr<Lister>> List(std::string_view b, std::string_view p,
                                       const ListOptions& o) override {
    std::lock_guard<std::mutex> lock(mu);
    listed.push_back(std::string(p) + (o.delimiter.empty() ? "" : "|" + o.delimiter));
    return inner_->List(b, p, o);
  }
  std::mutex mu;
  std::vector<std::string> listed;
};

std::vector<std::string> Keys(Lister& lister) {
  std::vector<std::string> keys;
  ListPage page;
  while (true) {
    auto more = lister.Next(&page);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) return keys;
    for (auto& o : page.objects) keys.push_back(o.key);
  }
}

TEST(ListFanOutTest, SubPrefixesAreListedInParallelAndComeOutInKeyOrder) {
  auto mem = *StoreForUri(*ParseUri("mem://fan"));
  ASSERT_TRUE(mem->CreateBucket("fan").ok());
  // Objects between, before and after "directories", names that sort around "/" ('.' < '/' <
  // '0'), a nested directory, and a lone directory chain to descend through.
  std::vector<std::string> keys = {"d/a.txt", "d/b.txt", "d/b0", "d/z"};
  for (int i = 0; i < 12; ++i) keys.push_back("d/b/" + std::to_string(100 + i));
  for (int i = 0; i < 7; ++i) keys.push_back("d/c/" + std::to_string(i));
  for (int i = 0; i < 3; ++i) keys.push_back("d/c/n/" + std::to_string(i));
  for (int i = 0; i < 9; ++i)
    keys.push_back("lone/x/p" + std::to_string(i % 3) + "/" + std::to_string(i));
  for (int i = 0; i < 23; ++i) keys.push_back("flat/" + std::to_string(1000 + i));
  for (const auto& k : keys) ASSERT_TRUE(mem->Put("fan", k, "").ok());

  const FanOutOptions options{.max_parallel = 2, .pages_ahead = 1, .page_size = 8};
  for (const std::string prefix : {"d/", "lone/", "flat/", "", "missing/", "d/a.txt"}) {
    SCOPED_TRACE(prefix);
    RecordingStore store(mem);
    auto plain = ListAll(*mem, "fan", prefix);
    ASSERT_TRUE(plain.ok());
    std::vector<std::string> want;
    for (auto& o : *plain) want.push_back(o.key);
    auto lister = ListFanOut(store, "fan", prefix, options);
    ASSERT_TRUE(lister.ok());
    EXPECT_EQ(Keys(**lister), want);
    auto listed = [&](const std::string& p) {
      return std::count(store.listed.begin(), store.listed.end(), p) == 1;
    };
    if (prefix == "d/") {
      EXPECT_TRUE(listed("d/|/") && listed("d/b/") && listed("d/c/")) << store.listed.size();
    } else if (prefix == "lone/") {
      EXPECT_TRUE(listed("lone/x/|/") && listed("lone/x/p0/") && listed("lone/x/p2/"));
    } else if (prefix.empty()) {
      EXPECT_TRUE(listed("|/") && listed("d/") && listed("flat/") && listed("lone/"));
    } else {
      EXPECT_LE(store.listed.size(), 2u) << "no fan-out for " << prefix;
    }
  }
  // Abandoned half-way: the running sub-listings stop.
  auto lister = ListFanOut(*mem, "fan", "d/", options);
  ListPage page;
  ASSERT_TRUE((*lister)->Next(&page).ok());
  lister->reset();
  // A missing bucket is the same NotFound as a plain listing's.
  auto missing = ListFanOut(*mem, "no-such-bucket", "", options);
  ListPage none;
  auto got = (*missing)->Next(&none);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace quarry
