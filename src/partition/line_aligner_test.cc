#include "quarry/line_aligner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace quarry {
namespace {

TEST(LineAlignerTest, ValidSeparators) {
  for (const char* ok : {"\n", "\r\n", "\x1e", "|#", "abc", "\r\n\t"}) {
    EXPECT_TRUE(ValidateSeparator(ok).ok()) << ok;
  }
}

TEST(LineAlignerTest, RejectsSeparatorsWithBorders) {
  for (const char* bad : {"aa", "aba", "\n\n", "abab", "\r\n\r"}) {
    Status s = ValidateSeparator(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("\\r\\n"), std::string::npos) << s.message();  // suggests valid ones
  }
  EXPECT_EQ(ValidateSeparator("").code(), StatusCode::kInvalidArgument);
}

TEST(LineAlignerTest, FindSeparator) {
  EXPECT_EQ(FindSeparator("abc\r\ndef", "\r\n", 0), 3u);
  EXPECT_EQ(FindSeparator("abc\r\ndef", "\r\n", 4), std::string_view::npos);
  EXPECT_EQ(FindSeparator("a\rb\r\n", "\r\n", 0), 3u);
  EXPECT_EQ(FindSeparator("", "\n", 0), std::string_view::npos);
  EXPECT_EQ(FindSeparator("\n", "\n", 0), 0u);
  EXPECT_EQ(FindSeparator("x\r", "\r\n", 0), std::string_view::npos);
}

TEST(LineAlignerTest, FinderAcrossFeedsMatchesWholeSearch) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string sep = iter % 2 ? "\r\n" : "|#!";
    std::string alphabet = "ab" + sep;
    std::string data;
    size_t size = rng() % 40;
    for (size_t i = 0; i < size; ++i) data.push_back(alphabet[rng() % alphabet.size()]);
    uint64_t from = size ? rng() % (size + 1) : 0;
    size_t expect_pos = data.find(sep, from);
    std::optional<uint64_t> expect;
    if (expect_pos != std::string::npos) expect = expect_pos + sep.size();
    // Feed in random pieces, starting at or before `from`.
    uint64_t start = from ? rng() % (from + 1) : 0;
    SeparatorFinder finder(sep, from);
    std::optional<uint64_t> got;
    for (uint64_t at = start; at < data.size() && !got;) {
      uint64_t n = 1 + rng() % 5;
      n = std::min<uint64_t>(n, data.size() - at);
      got = finder.Feed(std::string_view(data).substr(at, n), at);
      at += n;
    }
    ASSERT_EQ(got, expect) << "data=" << data << " from=" << from << " start=" << start;
  }
}

// Records the plain way: split at every occurrence, count the pieces (an empty last piece is
// no record).
uint64_t RecordsBySplitting(const std::string& data, const std::string& sep) {
  uint64_t records = 0;
  size_t at = 0;
  while (at < data.size()) {
    const size_t p = data.find(sep, at);
    ++records;
    if (p == std::string::npos) break;
    at = p + sep.size();
  }
  return records;
}

TEST(LineAlignerTest, CountSeparatorsOneByteAllLengthsAndAlignments) {
  // Lengths around the 16-byte vector steps and the 255-step lane flush, at every alignment.
  std::mt19937 rng(11);
  std::string buffer(5000, 'x');
  for (size_t len : {0, 1, 15, 16, 17, 31, 255 * 16 - 1, 255 * 16, 255 * 16 + 1, 4096 + 33}) {
    for (size_t shift = 0; shift < 16; ++shift) {
      for (char& c : buffer) c = "\n\na"[rng() % 3];
      std::string_view data = std::string_view(buffer).substr(shift, len);
      const auto expect = static_cast<uint64_t>(std::count(data.begin(), data.end(), '\n'));
      ASSERT_EQ(CountSeparators(data, "\n"), expect) << len << " at " << shift;
    }
  }
  std::string all(255 * 16 * 3 + 5, '\n');  // every lane saturates each step
  EXPECT_EQ(CountSeparators(all, "\n"), all.size());
  std::string high(100, '\xff');
  EXPECT_EQ(CountSeparators(high, "\xff"), 100u);
  EXPECT_EQ(CountSeparators(high, "\n"), 0u);
}

TEST(LineAlignerTest, RecordCounterAcrossFeedsMatchesSplitting) {
  std::mt19937 rng(5);
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string sep = iter % 3 == 0 ? "\n" : iter % 3 == 1 ? "\r\n" : "|#!";
    const std::string alphabet = "ab" + sep;
    std::string data;
    const size_t size = rng() % 60;
    for (size_t i = 0; i < size; ++i) data.push_back(alphabet[rng() % alphabet.size()]);
    RecordCounter counter(sep);
    for (size_t at = 0; at < data.size();) {
      const size_t n = std::min<size_t>(rng() % 6, data.size() - at);  // empty feeds too
      counter.Feed(std::string_view(data).substr(at, n));
      at += n;
    }
    ASSERT_EQ(counter.records(), RecordsBySplitting(data, sep)) << "data=" << data;
  }
}

}  // namespace
}  // namespace quarry
