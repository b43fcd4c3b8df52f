#include "quarry/line_aligner.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace quarry
