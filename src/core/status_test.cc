#include "quarry/status.h"

#include <gtest/gtest.h>

namespace quarry {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  QUARRY_ASSIGN_OR_RETURN(int h, Half(x));
  QUARRY_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Unavailable("endpoint down");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.ToString(), "Unavailable: endpoint down");
  Status c = Status(StatusCode::kNotFound, "no key", 404).WithContext("read s3://b/k");
  EXPECT_EQ(c.message(), "read s3://b/k: no key");
  EXPECT_EQ(c.http_status(), 404);
  EXPECT_FALSE(c.retryable());
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd: 3");
  EXPECT_EQ(Quarter(5).value_or(-1), -1);
}

}  // namespace
}  // namespace quarry
