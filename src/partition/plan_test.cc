#include "quarry/plan.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "quarry/data_stream.h"
#include "quarry/registry.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

TEST(NominalRangesTest, FollowTheContract) {
  using R = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(NominalRanges(0, 0, 0), (R{{0, 0}}));
  EXPECT_EQ(NominalRanges(0, 4, 0), (R{{0, 0}}));
  EXPECT_EQ(NominalRanges(0, 0, 3), (R{{0, 0}}));
  EXPECT_EQ(NominalRanges(10, 0, 0), (R{{0, 10}}));
  EXPECT_EQ(NominalRanges(10, 4, 0), (R{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(NominalRanges(8, 4, 0), (R{{0, 4}, {4, 8}}));
  EXPECT_EQ(NominalRanges(10, 0, 3), (R{{0, 4}, {4, 8}, {8, 10}}));  // C = ceil(10/3) = 4
  EXPECT_EQ(NominalRanges(10, 0, 4).size(), 4u);                     // C = 3: 0,3,6,9
  EXPECT_EQ(NominalRanges(9, 0, 4).size(), 3u);   // C = 3: never more than N, fewer here
  EXPECT_EQ(NominalRanges(3, 0, 10).size(), 3u);  // fewer when S < N
  for (uint64_t s = 1; s < 200; ++s) {
    for (uint64_t n = 1; n < 20; ++n) EXPECT_LE(NominalRanges(s, 0, n).size(), n);
  }
}

TEST(GlobTest, Matches) {
  EXPECT_TRUE(GlobMatch("logs/*.csv", "logs/a.csv"));
  EXPECT_FALSE(GlobMatch("logs/*.csv", "logs/x/a.csv"));  // * stays within a level
  EXPECT_TRUE(GlobMatch("logs/**.csv", "logs/x/a.csv"));
  EXPECT_TRUE(GlobMatch("logs/**/a.csv", "logs/a.csv"));  // **/ may match nothing
  EXPECT_TRUE(GlobMatch("logs/**/a.csv", "logs/x/y/a.csv"));
  EXPECT_TRUE(GlobMatch("img-?.png", "img-1.png"));
  EXPECT_FALSE(GlobMatch("img-?.png", "img-10.png"));
  EXPECT_TRUE(GlobMatch("img-[0-9].png", "img-7.png"));
  EXPECT_FALSE(GlobMatch("img-[!0-9].png", "img-7.png"));
  EXPECT_TRUE(GlobMatch("a+b %41/*", "a+b %41/x"));  // other characters are literal
  // A one-character class escapes a glob character.
  EXPECT_TRUE(GlobMatch("star[*]x", "star*x"));
  EXPECT_FALSE(GlobMatch("star[*]x", "starAx"));
  EXPECT_TRUE(GlobMatch("brack[[]et]", "brack[et]"));
  EXPECT_FALSE(GlobMatch("brack[[]et]", "bracket"));
  EXPECT_TRUE(GlobMatch("what[?]", "what?"));
  EXPECT_FALSE(GlobMatch("what[?]", "whats"));
  EXPECT_TRUE(GlobMatch("x[]]y", "x]y"));  // ']' first in a class is literal
  EXPECT_EQ(GlobLiteralPrefix("logs/2024-*/x"), 10u);
  EXPECT_EQ(GlobLiteralPrefix("plain"), 5u);
}

class PlanInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tb = testing_util::MakeTestBucket("mem");
    ASSERT_TRUE(tb.ok());
    tb_ = std::move(*tb);
    for (const char* k : {"a.csv", "a.csv.bak", "dir/1.csv", "dir/2.txt", "dir/sub/3.csv", "key",
                          "key/x", "only/inner", "zero"}) {
      ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, std::string(k) == "zero" ? "" : "data").ok());
    }
  }
  void TearDown() override { testing_util::DropTestBucket(tb_); }
  std::string U(const std::string& k) { return "mem://" + tb_.bucket + "/" + k; }
  std::vector<std::string> Keys(const std::vector<std::string>& inputs, PlanOptions o = {}) {
    auto plan = Plan::Build(inputs, std::move(o));
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    auto parts = plan->All();
    EXPECT_TRUE(parts.ok()) << parts.status().ToString();
    std::vector<std::string> keys;
    for (auto& p : *parts) keys.push_back(p.key);
    return keys;
  }
  testing_util::TestBucket tb_;
};

TEST_F(PlanInputsTest, BucketPrefixKeyAndGlobs) {
  EXPECT_EQ(Keys({"mem://" + tb_.bucket}).size(), 9u);
  EXPECT_EQ(Keys({"mem://" + tb_.bucket + "/"}).size(), 9u);
  EXPECT_EQ(Keys({U("dir/")}),
            (std::vector<std::string>{"dir/1.csv", "dir/2.txt", "dir/sub/3.csv"}));
  EXPECT_EQ(Keys({U("a.csv")}), (std::vector<std::string>{"a.csv"}));      // not a.csv.bak
  EXPECT_EQ(Keys({U("key")}), (std::vector<std::string>{"key"}));          // the object wins
  EXPECT_EQ(Keys({U("only")}), (std::vector<std::string>{"only/inner"}));  // else a prefix
  EXPECT_EQ(Keys({U("dir/*.csv")}), (std::vector<std::string>{"dir/1.csv"}));
  EXPECT_EQ(Keys({U("**.csv")}), (std::vector<std::string>{"a.csv", "dir/1.csv", "dir/sub/3.csv"}));
  EXPECT_EQ(Keys({U("dir/?.txt"), U("a.csv")}), (std::vector<std::string>{"dir/2.txt", "a.csv"}));
  // The empty object is one partition too.
  auto zero = Plan::Build({U("zero")}, {.chunk_size = 10});
  auto parts = zero->All();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].start, 0u);
  EXPECT_EQ((*parts)[0].stop, 0u);
}

TEST_F(PlanInputsTest, AKeyWithoutSlashNeverTakesSiblingKeys) {
  for (const char* k : {"only-other", "onlyx/y", "only!z"}) {
    ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, "data").ok());
  }
  EXPECT_EQ(Keys({U("only")}), (std::vector<std::string>{"only/inner"}));
}

TEST_F(PlanInputsTest, FolderMarkersAreNotPartitions) {
  for (const char* k : {"dir/", "dir/sub/", "marked/", "marked/x.csv"}) {
    ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, "").ok());
  }
  EXPECT_EQ(Keys({U("dir/")}),
            (std::vector<std::string>{"dir/1.csv", "dir/2.txt", "dir/sub/3.csv"}));
  EXPECT_EQ(Keys({U("marked")}), (std::vector<std::string>{"marked/x.csv"}));
  // A key ending in '/' that holds bytes is data.
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "full/", "bytes").ok());
  EXPECT_EQ(Keys({U("full/")}), (std::vector<std::string>{"full/"}));
}

TEST_F(PlanInputsTest, AnExistingKeyWithGlobCharactersIsThatKey) {
  for (const char* k : {"brack[et]", "bracke", "brackt", "star*x", "starAx", "what?", "whats"}) {
    ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, "data").ok());
  }
  EXPECT_EQ(Keys({U("brack[et]")}), (std::vector<std::string>{"brack[et]"}));
  EXPECT_EQ(Keys({U("star*x")}), (std::vector<std::string>{"star*x"}));
  EXPECT_EQ(Keys({U("what?")}), (std::vector<std::string>{"what?"}));
  // Not a key: a pattern, and escaped characters match only themselves.
  EXPECT_EQ(Keys({U("brack[[]et]")}), (std::vector<std::string>{"brack[et]"}));
  EXPECT_EQ(Keys({U("star[*]?")}), (std::vector<std::string>{"star*x"}));
  EXPECT_EQ(Keys({U("wha[t][?]")}), (std::vector<std::string>{"what?"}));
  EXPECT_EQ(Keys({U("brack[et]*")}), (std::vector<std::string>{"bracke", "brackt"}));
}

TEST_F(PlanInputsTest, MixedSchemes) {
  auto dir = std::filesystem::temp_directory_path() / testing_util::UniqueName("quarry-plan");
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "local.csv") << "x\n"; }
  auto plan = Plan::Build({U("a.csv"), dir.string() + "/"}, {});
  ASSERT_TRUE(plan.ok());
  auto parts = plan->All();
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].uri, U("a.csv"));
  EXPECT_EQ((*parts)[1].uri, "file://" + (dir / "local.csv").string());
  std::filesystem::remove_all(dir);
}

TEST_F(PlanInputsTest, ZeroMatchesIsNotFoundNamingTheInput) {
  for (const std::string& in : {U("nothing/"), U("*.parquet"), U("missing-key")}) {
    auto plan = Plan::Build({in}, {});
    ASSERT_TRUE(plan.ok());
    auto parts = plan->All();
    ASSERT_FALSE(parts.ok()) << in;
    EXPECT_EQ(parts.status().code(), StatusCode::kNotFound);
    EXPECT_NE(parts.status().message().find(in), std::string::npos) << parts.status().message();
  }
  auto missing_bucket = Plan::Build({"mem://no-such-bucket-here/"}, {});
  EXPECT_EQ(missing_bucket->All().status().code(), StatusCode::kNotFound);
}

TEST_F(PlanInputsTest, BadOptionsAreInvalidArgument) {
  EXPECT_EQ(Plan::Build({U("a.csv")}, {.chunk_size = 1, .chunk_number = 2}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Plan::Build({U("a.csv")}, {.newline = "aa"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Plan::Build({U("a.csv")}, {.header = true}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Plan::Build({"s3:/"}, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Plan::Build({}, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PlanInputsTest, PartitionsComeWhileListing) {
  // 2,500 keys listed 1,000 a page: the first partition arrives after one page.
  for (int i = 0; i < 2500; ++i) {
    ASSERT_TRUE(tb_.store->Put(tb_.bucket, "many/" + std::to_string(10000 + i), "x").ok());
  }
  auto plan = Plan::Build({U("many/")}, {});
  Partition p;
  ASSERT_TRUE(*plan->Next(&p));
  EXPECT_EQ(plan->list_pages(), 1u);
  EXPECT_EQ(plan->All()->size(), 2499u);
  EXPECT_EQ(plan->list_pages(), 3u);
}

// One plan over inputs of two clouds reads each with the storage options of its own scheme: a
// wrong endpoint given for gs leaves the s3 input and its partitions' streams untouched, and
// fails the gs input, naming that endpoint.
TEST(PlanAcrossCloudsTest, EachInputIsReadWithTheOptionsOfItsScheme) {
  if (std::getenv("QUARRY_TEST_S3") == nullptr || std::getenv("QUARRY_TEST_GS") == nullptr) {
    GTEST_SKIP() << "set QUARRY_TEST_S3=1 and QUARRY_TEST_GS=1 with the servers running "
                    "(scripts/test-servers start)";
  }
  auto s3 = testing_util::MakeTestBucket("s3");
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  auto gs = testing_util::MakeTestBucket("gs");
  ASSERT_TRUE(gs.ok()) << gs.status().ToString();
  ASSERT_TRUE(s3->store->Put(s3->bucket, "in/a.txt", "from s3\n").ok());
  ASSERT_TRUE(gs->store->Put(gs->bucket, "in/b.txt", "from gs\n").ok());
  const std::vector<std::string> inputs = {"s3://" + s3->bucket + "/in/",
                                           "gs://" + gs->bucket + "/in/"};
  auto read_all = [](const Partition& p) -> std::string {
    auto stream = p.Open();
    if (!stream.ok()) return "error: " + stream.status().ToString();
    std::string out;
    while (true) {
      auto chunk = (*stream)->ReadChunk();
      if (!chunk.ok()) return "error: " + chunk.status().ToString();
      if (chunk->empty()) return out;
      out.append(chunk->data(), chunk->size());
    }
  };

  PlanOptions both;
  both.storage_options = {{"s3", testing_util::SmallPartOptions()},
                          {"gs", testing_util::SmallPartOptions()}};
  auto plan = Plan::Build(inputs, both);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto parts = plan->All();
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].uri, "s3://" + s3->bucket + "/in/a.txt");
  EXPECT_EQ((*parts)[1].uri, "gs://" + gs->bucket + "/in/b.txt");
  EXPECT_EQ(read_all((*parts)[0]), "from s3\n");
  EXPECT_EQ(read_all((*parts)[1]), "from gs\n");

  PlanOptions wrong_gs = both;
  wrong_gs.storage_options["gs"] = {{"endpoint", "http://127.0.0.1:9"}, {"max_attempts", "1"}};
  auto mixed = Plan::Build(inputs, wrong_gs);
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  Partition first;
  ASSERT_TRUE(*mixed->Next(&first));
  EXPECT_EQ(read_all(first), "from s3\n");
  Partition second;
  auto failed = mixed->Next(&second);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().ToString().find("127.0.0.1:9"), std::string::npos)
      << failed.status().ToString();

  testing_util::DropTestBucket(*s3);
  testing_util::DropTestBucket(*gs);
}

}  // namespace
}  // namespace quarry
