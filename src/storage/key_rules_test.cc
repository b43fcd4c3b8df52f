// The rule of what a URI names, local paths from keys, and text made printable.
#include "quarry/key_rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/registry.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;

TEST(CheckObjectKeyTest, ABucketRootIsNotAnObject) {
  EXPECT_TRUE(CheckObjectKey("s3", "b", "k").ok());
  Status s = CheckObjectKey("s3", "b", "");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'s3://b/' is a bucket"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("quarry ls s3://b/"), std::string::npos) << s.message();
}

TEST(CheckObjectKeyTest, StoresRefuseToReadOrStatABucketRoot) {
  auto tb = testing_util::MakeTestBucket("mem");
  ASSERT_TRUE(tb.ok());
  ASSERT_TRUE(tb->store->Put(tb->bucket, "k", "data").ok());
  EXPECT_EQ(tb->store->Head(tb->bucket, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadToString(*tb->store, tb->bucket, "").status().code(), StatusCode::kInvalidArgument);
  testing_util::DropTestBucket(*tb);
}

TEST(FolderMarkerTest, OnlyEmptyKeysEndingInSlash) {
  EXPECT_TRUE(IsFolderMarker({"dir/", 0}));
  EXPECT_FALSE(IsFolderMarker({"dir/", 3}));  // data, whatever its name
  EXPECT_FALSE(IsFolderMarker({"zero", 0}));
  EXPECT_FALSE(IsFolderMarker({"", 0}));
}

class SelectKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tb = testing_util::MakeTestBucket("mem");
    ASSERT_TRUE(tb.ok());
    tb_ = std::move(*tb);
    for (const char* k : {"a", "a/x", "ab-other", "abc/x", "d-sib", "d/1", "d/e/2", "d!x"}) {
      ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, "data").ok());
    }
  }
  void TearDown() override { testing_util::DropTestBucket(tb_); }

  std::vector<std::string> Listed(const std::string& key, bool recursive) {
    auto lister = ListSelected(*tb_.store, tb_.bucket, key, recursive);
    EXPECT_TRUE(lister.ok()) << lister.status().ToString();
    std::vector<std::string> out;
    ListPage page;
    while (true) {
      auto more = (*lister)->Next(&page);
      EXPECT_TRUE(more.ok());
      if (!more.ok() || !*more) break;
      for (auto& p : page.common_prefixes) out.push_back(p);
      for (auto& o : page.objects) out.push_back(o.key);
    }
    return out;
  }
  std::vector<std::string> Remaining() {
    std::vector<std::string> out;
    auto all = ListAll(*tb_.store, tb_.bucket, "");
    EXPECT_TRUE(all.ok());
    if (all.ok()) {
      for (auto& o : *all) out.push_back(o.key);
    }
    return out;
  }

  testing_util::TestBucket tb_;
};

TEST_F(SelectKeysTest, AnExistingKeyIsThatObject) {
  auto s = SelectKeys(*tb_.store, tb_.bucket, "a");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->object.has_value());
  EXPECT_EQ(s->object->key, "a");
  EXPECT_EQ(Listed("a", true), std::vector<std::string>{"a"});
}

TEST_F(SelectKeysTest, AMissingKeyIsItsDirectoryNeverSiblings) {
  auto s = SelectKeys(*tb_.store, tb_.bucket, "d");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->object.has_value());
  EXPECT_EQ(s->prefix, "d/");
  EXPECT_EQ(Listed("d", true), (std::vector<std::string>{"d/1", "d/e/2"}));
  EXPECT_EQ(Listed("d", false), (std::vector<std::string>{"d/e/", "d/1"}));
}

TEST_F(SelectKeysTest, ATrailingSlashOrNothingIsAPrefix) {
  EXPECT_EQ(SelectKeys(*tb_.store, tb_.bucket, "a/")->prefix, "a/");
  EXPECT_EQ(Listed("a/", true), std::vector<std::string>{"a/x"});
  EXPECT_EQ(SelectKeys(*tb_.store, tb_.bucket, "")->prefix, "");
  EXPECT_EQ(Listed("", true).size(), 8u);
}

TEST_F(SelectKeysTest, DeletingReachesOnlyWhatWasNamed) {
  EXPECT_EQ(*DeleteSelected(*tb_.store, tb_.bucket, "d"), 2u);
  EXPECT_EQ(Remaining(),
            (std::vector<std::string>{"a", "a/x", "ab-other", "abc/x", "d!x", "d-sib"}));
  EXPECT_EQ(*DeleteSelected(*tb_.store, tb_.bucket, "a"), 1u);  // the object, not a/x
  EXPECT_EQ(Remaining(), (std::vector<std::string>{"a/x", "ab-other", "abc/x", "d!x", "d-sib"}));
  EXPECT_EQ(*DeleteSelected(*tb_.store, tb_.bucket, "a"), 1u);  // now the directory a/
  EXPECT_EQ(Remaining(), (std::vector<std::string>{"ab-other", "abc/x", "d!x", "d-sib"}));
  EXPECT_EQ(*DeleteSelected(*tb_.store, tb_.bucket, "nothing"), 0u);
}

TEST(LocalPathOfKeyTest, NormalisesInsideTheFolder) {
  EXPECT_EQ(*LocalPathOfKey("a/b"), "a/b");
  EXPECT_EQ(*LocalPathOfKey("a/./b"), "a/b");
  EXPECT_EQ(*LocalPathOfKey("a//b"), "a/b");
  EXPECT_EQ(*LocalPathOfKey("/a/b"), "a/b");  // an absolute part stays inside
  EXPECT_EQ(*LocalPathOfKey("a/b/"), "a/b");
  EXPECT_EQ(*LocalPathOfKey("a/../b"), "b");
  EXPECT_EQ(*LocalPathOfKey("..."), "...");  // only ".." itself climbs
  EXPECT_EQ(*LocalPathOfKey("x..y/..z"), "x..y/..z");
}

TEST(LocalPathOfKeyTest, RefusesPathsThatLeaveTheFolder) {
  for (const char* key :
       {"../x", "a/../../y", "../../../../tmp/z", "..", "a/b/../../..", "", "/", ".", "a/.."}) {
    auto path = LocalPathOfKey(key);
    EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_NE(path.status().message().find("'" + std::string(key) + "'"), std::string::npos)
        << path.status().message();
  }
}

TEST(FindPathCollisionsTest, SamePathAndFileAgainstFolder) {
  auto c = FindPathCollisions({{"p/a/b", "a/b"},
                               {"p/a/./b", "a/b"},
                               {"p/a//b", "a/b"},
                               {"p/c", "c"},
                               {"p/e", "e"},
                               {"p/e/f", "e/f"},
                               {"p/e/g/h", "e/g/h"},
                               {"p/ok/x", "ok/x"}});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].path, "a/b");
  EXPECT_EQ(c[0].keys, (std::vector<std::string>{"p/a/./b", "p/a//b", "p/a/b"}));  // key order
  EXPECT_EQ(c[1].path, "e");
  EXPECT_EQ(c[1].keys, (std::vector<std::string>{"p/e", "p/e/f", "p/e/g/h"}));
  EXPECT_TRUE(FindPathCollisions({{"x", "x"}, {"y/x", "y/x"}, {"xy/z", "xy/z"}}).empty());
}

class LocalFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / testing_util::UniqueName("quarry-keys");
    fs::create_directories(base_ / "root/sub");
    fs::create_directories(base_ / "outside/dir");
    Write(base_ / "root/a.txt", "a");
    Write(base_ / "root/sub/b.txt", "bb");
    Write(base_ / "outside/secret", "s");
    Write(base_ / "outside/dir/c", "c");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void Write(const fs::path& p, const std::string& data) { std::ofstream(p) << data; }
  std::string Root() const { return (base_ / "root").string(); }

  fs::path base_;
};

TEST_F(LocalFolderTest, LinkedFoldersInsideTheDestinationAreRefused) {
  fs::create_directory_symlink(base_ / "outside", base_ / "root/out");
  EXPECT_TRUE(CheckNoLinkedFolder(Root(), "sub/b.txt").ok());
  EXPECT_TRUE(CheckNoLinkedFolder(Root(), "new/dir/x").ok());  // created later, for real
  EXPECT_TRUE(CheckNoLinkedFolder(Root(), "out").ok());  // the file itself: rename replaces it
  Status s = CheckNoLinkedFolder(Root(), "out/dir/x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("root/out is a symbolic link"), std::string::npos) << s.message();
  // The destination itself may be a link: the user named it.
  fs::create_directory_symlink(base_ / "root", base_ / "alias");
  EXPECT_TRUE(CheckNoLinkedFolder((base_ / "alias").string(), "sub/b.txt").ok());
}

std::vector<std::string> Paths(const LocalTree& t) {
  std::vector<std::string> out;
  for (const auto& f : t.files) out.push_back(f.relative_path);
  return out;
}

TEST_F(LocalFolderTest, LinksAreSkippedAndNamedUnlessFollowed) {
  fs::create_symlink(base_ / "outside/secret", base_ / "root/file-link");
  fs::create_directory_symlink(base_ / "outside/dir", base_ / "root/dir-link");
  fs::create_symlink(base_ / "nowhere", base_ / "root/broken");
  fs::create_directory_symlink(base_ / "root", base_ / "root/sub/loop");
  auto plain = WalkLocalFolder(Root(), false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(Paths(*plain), (std::vector<std::string>{"a.txt", "sub/b.txt"}));
  ASSERT_EQ(plain->skipped.size(), 4u);
  for (const char* name : {"file-link", "dir-link", "broken", "loop"}) {
    bool named = false;
    for (const auto& line : plain->skipped) {
      named = named || (line.find(name) != std::string::npos &&
                        line.find("symbolic link, not followed") != std::string::npos);
    }
    EXPECT_TRUE(named) << name;
  }

  auto followed = WalkLocalFolder(Root(), true);
  ASSERT_TRUE(followed.ok());
  EXPECT_EQ(Paths(*followed),
            (std::vector<std::string>{"a.txt", "dir-link/c", "file-link", "sub/b.txt"}));
  EXPECT_EQ(followed->files[2].size, 1u);
  ASSERT_EQ(followed->skipped.size(), 2u);
  EXPECT_NE(followed->skipped[0].find("broken symbolic link"), std::string::npos);
  EXPECT_NE(followed->skipped[1].find("(a loop)"), std::string::npos);
  EXPECT_EQ(WalkLocalFolder((base_ / "none").string(), false).status().code(),
            StatusCode::kNotFound);
}

TEST(EscapeForTextTest, ControlsAndBackslashBecomeEscapes) {
  EXPECT_EQ(EscapeForText("plain key/ü.csv"), "plain key/ü.csv");
  EXPECT_EQ(EscapeForText("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeForText("back\\slash"), "back\\\\slash");
  EXPECT_EQ(EscapeForText("\x1b[31mred\r\t"), "\\x1b[31mred\\r\\t");
  EXPECT_EQ(EscapeForText(std::string("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
  EXPECT_EQ(EscapeForText("csi\xc2\x9b"
                          "2J"),
            "csi\\xc2\\x9b2J");                      // U+009B
  EXPECT_EQ(EscapeForText("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is printable
  EXPECT_EQ(EscapeForText("\xc2"), "\xc2");          // a lone lead byte stays
  EXPECT_EQ(EscapeForText("use \\n\n", /*keep_backslashes=*/true), "use \\n\\n");
}

}  // namespace
}  // namespace quarry
