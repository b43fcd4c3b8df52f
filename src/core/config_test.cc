#include "quarry/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/config_files.h"
#include "quarry/registry.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("quarry-config-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "home/.aws");
    fs::create_directories(dir_ / "cwd");
    env_.home = (dir_ / "home").string();
    env_.cwd = (dir_ / "cwd").string();
    env_.getenv = [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars_.find(k);
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path dir_;
  std::map<std::string, std::string> vars_;
  ConfigEnvironment env_;
};

TEST_F(ConfigTest, ExplicitBeatsEnvironmentBeatsFileBeatsProfile) {
  Write(dir_ / "home/.aws/credentials",
        "[default]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = profsecret\n"
        "[other]\naws_access_key_id = OTHERKEY\naws_secret_access_key = othersecret\n");
  Write(dir_ / "home/.aws/config", "[profile other]\nregion = eu-west-1\n");
  Write(dir_ / "cwd/quarry.yaml",
        "# comment\ns3:\n  endpoint: http://file-endpoint:9000  # trailing\n"
        "  region: \"file-region\"\ncos:\n  api_key: 'k'\n");
  auto r = ResolveStorageOptions("s3", {}, env_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["endpoint"], "http://file-endpoint:9000");
  EXPECT_EQ((*r)["region"], "file-region");
  EXPECT_EQ((*r)["access_key_id"], "PROFILEKEY");

  vars_["AWS_REGION"] = "env-region";
  vars_["QUARRY_S3_ENDPOINT"] = "http://quarry-env:1";
  vars_["AWS_ENDPOINT_URL"] = "http://aws-env:2";
  vars_["AWS_PROFILE"] = "other";
  r = ResolveStorageOptions("s3", {{"region", "explicit"}}, env_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["region"], "explicit");
  EXPECT_EQ((*r)["endpoint"], "http://quarry-env:1");  // QUARRY_ beats AWS_
  EXPECT_EQ((*r)["access_key_id"], "OTHERKEY");
  EXPECT_EQ((*r)["secret_access_key"], "othersecret");

  auto cos = ResolveStorageOptions("cos", {}, env_);
  ASSERT_TRUE(cos.ok());
  EXPECT_EQ((*cos)["api_key"], "k");
  EXPECT_EQ(cos->count("access_key_id"), 0u);  // AWS_* and ~/.aws serve s3 only
}

TEST_F(ConfigTest, QuarryConfigVariableMustPointAtAFile) {
  vars_["QUARRY_CONFIG"] = (dir_ / "missing.yaml").string();
  auto r = ResolveStorageOptions("s3", {}, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("missing.yaml"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeysAreRefusedWithTheClosestKnownOne) {
  auto r = ResolveStorageOptions("s3", {{"endpont", "http://x:1"}}, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unknown storage option 'endpont' for s3: did you mean "
                                      "'endpoint'?"),
            std::string::npos)
      << r.status().message();
  // Nothing close: no guess.
  r = ResolveStorageOptions("cos", {{"colour", "blue"}}, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("did you mean"), std::string::npos);
  // In the config file: the file is named. Other schemes' sections are not checked here.
  Write(dir_ / "cwd/quarry.yaml", "s3:\n  regoin: eu\ncos:\n  anything: 1\n");
  r = ResolveStorageOptions("s3", {}, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("key in config file '"), std::string::npos);
  EXPECT_NE(r.status().message().find("did you mean 'region'?"), std::string::npos);
  // Resolved credentials handed to workers travel as options of their own.
  r = ResolveStorageOptions("s3", {{"region", "eu"}, {"token_access_key_id", "A"}}, env_);
  EXPECT_FALSE(r.ok());  // the file's typo still stands
  fs::remove(dir_ / "cwd/quarry.yaml");
  r = ResolveStorageOptions("s3", {{"region", "eu"}, {"token_access_key_id", "A"}}, env_);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(ConfigTest, MalformedYamlNamesTheLine) {
  auto r = ParseConfigYaml("s3:\n  endpoint: x\nnot a mapping\n", "q.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("q.yaml' line 3"), std::string::npos);
}

// The resolution order belongs to core; what a scheme's configuration holds belongs to its
// spec: a scheme core has never heard of gets its keys, variables and defaults from its spec.
TEST_F(ConfigTest, ASpecBringsItsOwnKeysVariablesAndDefaults) {
  ConfigSpec spec;
  spec.scheme = "blob";
  spec.keys = {"account_name", "account_key", "endpoint"};
  spec.secret_keys = {"account_key"};
  spec.environment = {{"BLOB_ACCOUNT", "account_name"}, {"BLOB_KEY", "account_key"}};
  spec.defaults = [](const ConfigEnvironment&, StorageOptions* out) {
    out->emplace("endpoint", "http://default:1");
  };
  vars_["BLOB_ACCOUNT"] = "from-env";
  vars_["QUARRY_BLOB_ACCOUNT_NAME"] = "from-quarry-env";  // QUARRY_ beats the service's own
  vars_["BLOB_KEY"] = "k";
  Write(dir_ / "cwd/quarry.yaml", "blob:\n  endpoint: http://file:2\n");
  auto r = ResolveConfig(spec, {}, env_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["account_name"], "from-quarry-env");
  EXPECT_EQ((*r)["account_key"], "k");
  EXPECT_EQ((*r)["endpoint"], "http://file:2");  // the file beats the defaults
  fs::remove(dir_ / "cwd/quarry.yaml");
  r = ResolveConfig(spec, {}, env_);
  EXPECT_EQ((*r)["endpoint"], "http://default:1");
  // Keys of other schemes are not this one's.
  r = ResolveConfig(spec, {{"access_key_id", "x"}}, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown storage option 'access_key_id' for blob"),
            std::string::npos);
  // No AWS variable reaches a scheme whose spec does not ask for it.
  vars_["AWS_REGION"] = "eu";
  spec.keys.push_back("region");
  r = ResolveConfig(spec, {}, env_);
  EXPECT_EQ(r->count("region"), 0u);
}

TEST(ConfigRedactionTest, SecretsNeverPrinted) {
  StorageOptions o = {{"access_key_id", "AK"},
                      {"secret_access_key", "SUPERSECRET"},
                      {"session_token", "TOKENVALUE"},
                      {"api_key", "APIKEYVALUE"}};
  o["account_key"] = "ACCOUNTKEYVALUE";
  o["client_secret"] = "CLIENTSECRETVALUE";
  o["sas_token"] = "SASVALUE";
  std::string s = RedactedString(o);
  EXPECT_NE(s.find("access_key_id=AK"), std::string::npos);
  for (const char* secret : {"ACCOUNTKEYVALUE", "CLIENTSECRETVALUE", "SASVALUE"}) {
    EXPECT_EQ(s.find(secret), std::string::npos) << s;
  }
  for (const char* secret : {"SUPERSECRET", "TOKENVALUE", "APIKEYVALUE"}) {
    EXPECT_EQ(s.find(secret), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace quarry
