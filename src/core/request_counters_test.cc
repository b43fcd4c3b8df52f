#include "quarry/request_counters.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quarry {
namespace {

TEST(RequestCounts, ReadsAddsAndNamesEveryCounter) {
  RequestCounters counters;
  counters.requests = 7;
  counters.retries = 2;
  counters.bytes_received = 1000;
  counters.bytes_sent = 10;
  counters.connections_opened = 3;
  RequestCounts counts = ReadCounts(counters);
  EXPECT_EQ(counts.requests, 7u);
  EXPECT_EQ(counts.retries, 2u);
  EXPECT_EQ(counts.bytes_received, 1000u);
  EXPECT_EQ(counts.bytes_sent, 10u);
  EXPECT_EQ(counts.connections_opened, 3u);

  counts += counts;
  std::vector<std::string> names;
  std::vector<uint64_t> values;
  ForEachCount(counts, [&](const char* name, uint64_t value) {
    names.emplace_back(name);
    values.push_back(value);
  });
  EXPECT_EQ(names, (std::vector<std::string>{"requests", "retries", "bytes_received", "bytes_sent",
                                             "connections_opened"}));
  EXPECT_EQ(values, (std::vector<uint64_t>{14, 4, 2000, 20, 6}));
}

}  // namespace
}  // namespace quarry
