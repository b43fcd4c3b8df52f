// Reading backends' storage options: fallbacks for missing and empty keys, and malformed values
// refused naming the option, the value and what is allowed.
#include "storage/store_options.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>

namespace quarry {
namespace {

bool Says(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(OptionText, MissingOrEmptyGivesTheFallback) {
  const StorageOptions o = {{"a", "x"}, {"empty", ""}};
  EXPECT_EQ(OptionText(o, "a", "f"), "x");
  EXPECT_EQ(OptionText(o, "empty", "f"), "f");
  EXPECT_EQ(OptionText(o, "missing", "f"), "f");
  EXPECT_EQ(OptionText(o, "missing"), "");
}

TEST(OptionCount, TakesWholeNumbersInRangeOnly) {
  const StorageOptions o = {{"n", "7"}, {"big", "101"}, {"neg", "-1"}, {"junk", "5x"}};
  EXPECT_EQ(*OptionCount(o, "n", 1, 1, 100, "things"), 7u);
  EXPECT_EQ(*OptionCount(o, "missing", 42, 1, 100, "things"), 42u);
  for (const char* key : {"big", "neg", "junk"}) {
    auto r = OptionCount(o, key, 1, 1, 100, "things");
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Says(r.status(), "storage option '" + std::string(key) + "' = '" + o.at(key) +
                                     "' is not allowed: give a whole number of things from 1 to "
                                     "100"))
        << r.status().message();
  }
}

TEST(OptionFlag, TakesTheUsualWordsInAnyCase) {
  const StorageOptions o = {{"a", "Yes"}, {"b", "OFF"}, {"c", "1"}, {"d", "false"}, {"e", "ja"}};
  EXPECT_TRUE(*OptionFlag(o, "a", false));
  EXPECT_FALSE(*OptionFlag(o, "b", true));
  EXPECT_TRUE(*OptionFlag(o, "c", false));
  EXPECT_FALSE(*OptionFlag(o, "d", true));
  EXPECT_TRUE(*OptionFlag(o, "missing", true));
  auto typo = OptionFlag(o, "e", false);
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(Says(typo.status(), "storage option 'e' = 'ja' is not allowed: give true or false"));
}

TEST(HttpClientOptionsFrom, DefaultsAndGivenValues) {
  // connect and read timeouts, attempts, verify_tls, receive_in_place
  auto fields = [](const http::HttpClientOptions& o) {
    return std::tuple(o.connect_timeout_ms, o.read_timeout_ms, o.retry.max_attempts, o.verify_tls,
                      o.receive_in_place);
  };
  auto d = HttpClientOptionsFrom({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(fields(*d), std::tuple(5000, 30000, 5, true, true));

  auto g = HttpClientOptionsFrom({{"connect_timeout_ms", "10"},
                                  {"read_timeout_ms", "20"},
                                  {"max_attempts", "1"},
                                  {"verify_tls", "no"},
                                  {"receive_in_place", "false"}});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(fields(*g), std::tuple(10, 20, 1, false, false));

  auto bad = HttpClientOptionsFrom({{"max_attempts", "101"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Says(bad.status(), "'max_attempts' = '101'"));
}

TEST(IsIpOrLocalHost, EmulatorsAndOnPremisesHosts) {
  for (const char* host :
       {"localhost", "localhost:9000", "127.0.0.1", "10.0.0.2:7480", "[::1]", "[::1]:4443"}) {
    EXPECT_TRUE(IsIpOrLocalHost(host)) << host;
  }
  for (const char* host : {"s3.us-east-1.amazonaws.com", "storage.googleapis.com:443", "", ":80"}) {
    EXPECT_FALSE(IsIpOrLocalHost(host)) << host;
  }
}

}  // namespace
}  // namespace quarry
