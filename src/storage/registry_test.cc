// The backend registry: the schemes there are, specs that own their configuration, stores made
// through a registered factory, and the checks that keep a registration safe.
#include "quarry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "storage/backends.h"

namespace quarry {
namespace {

TEST(RegistryTest, ListsTheBuiltInSchemes) {
  auto schemes = RegisteredSchemes();
  for (const char* s : {"s3", "cos", "file", "mem"}) {
    EXPECT_NE(std::find(schemes.begin(), schemes.end(), s), schemes.end()) << s;
  }
  EXPECT_NE(RegisteredSchemesText().find("s3, cos, file, mem"), std::string::npos);
}

TEST(RegistryTest, UnknownSchemeNamesItAndTheKnownOnes) {
  auto store = StoreForUri(*ParseUri("ftp://host/x"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(store.status().message().find("unknown scheme 'ftp'"), std::string::npos)
      << store.status().message();
  EXPECT_NE(store.status().message().find("use one of s3, cos, file, mem"), std::string::npos);
  EXPECT_FALSE(ResolveStorageOptions("ftp", {}).ok());
}

TEST(RegistryTest, ARegisteredBackendServesItsSchemeWithItsOwnKeys) {
  BackendSpec spec;
  spec.config.scheme = "memtest";
  spec.config.keys = {"colour"};
  spec.make = [](const StorageOptions& options) -> Result<std::shared_ptr<ObjectStore>> {
    if (options.at("colour") != "blue") return InvalidArgument("colour must be blue");
    return MakeMemStore();
  };
  ASSERT_TRUE(RegisterBackend(spec).ok());
  auto store = StoreForUri(*ParseUri("memtest://b/k"), {{"colour", "blue"}});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->scheme(), "mem");
  // The spec's keys, not another scheme's.
  auto other = StoreForUri(*ParseUri("memtest://b/k"), {{"endpoint", "http://x"}});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("unknown storage option 'endpoint' for memtest"),
            std::string::npos);
  auto schemes = RegisteredSchemes();
  EXPECT_NE(std::find(schemes.begin(), schemes.end(), "memtest"), schemes.end());
  // Once only.
  auto again = RegisterBackend(spec);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("registered already"), std::string::npos);
}

TEST(RegistryTest, RefusesSpecsThatWouldLeakOrCannotBeUris) {
  BackendSpec leaky;
  leaky.config.scheme = "leaky";
  leaky.config.keys = {"passphrase_value"};
  leaky.config.secret_keys = {"passphrase_value"};  // IsSecretKey would not redact it
  leaky.make = [](const StorageOptions&) -> Result<std::shared_ptr<ObjectStore>> {
    return MakeMemStore();
  };
  auto r = RegisterBackend(leaky);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("would be printed"), std::string::npos);
  BackendSpec bad = leaky;
  bad.config.secret_keys.clear();
  bad.config.scheme = "Not A Scheme";
  EXPECT_FALSE(RegisterBackend(bad).ok());
}

// Every secret key a built-in spec declares is redacted wherever options are printed.
TEST(RegistryTest, EverySecretKeyOfEveryBuiltInSpecIsRedacted) {
  for (const auto& scheme : RegisteredSchemes()) {
    const BackendSpec* spec = *FindBackend(scheme);
    for (const auto& key : spec->config.secret_keys) {
      EXPECT_TRUE(IsSecretKey(key)) << scheme << ": " << key;
      EXPECT_EQ(RedactedString({{key, "VALUE-XYZ"}}).find("VALUE-XYZ"), std::string::npos);
    }
  }
}

// The standard AWS variables are the s3 spec's: cos and others never read them.
TEST(RegistryTest, AwsVariablesServeS3Only) {
  ConfigEnvironment env;
  env.getenv = [](const std::string& k) -> std::optional<std::string> {
    if (k == "AWS_REGION") return std::string("eu-west-9");
    return std::nullopt;
  };
  auto s3 = ResolveStorageOptions("s3", {}, env);
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ((*s3)["region"], "eu-west-9");
  auto cos = ResolveStorageOptions("cos", {}, env);
  ASSERT_TRUE(cos.ok());
  EXPECT_EQ(cos->count("region"), 0u);
}

}  // namespace
}  // namespace quarry
