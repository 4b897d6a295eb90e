// The public API as a user program sees it: built with only the public
// include directory (engine/include) and linked against libbitgask.a, so a
// header that leaks an internal include fails this build.
#include <bitgask/db.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace {

TEST(ApiCompile, ReadmeShapeWorks) {
  char tmpl[] = "/tmp/bitgask-api-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/store";

  bitgask::Options opts;  // opts.sync_on_put = false; ...
  std::unique_ptr<bitgask::DB> db;
  bitgask::Status s = bitgask::DB::Open(path, opts, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string key = "greeting", value = "hello";
  s = db->Put(key, value);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string got;
  s = db->Get(key, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, "hello");
  s = db->Delete(key);
  ASSERT_TRUE(s.ok()) << s.ToString();
  got = "unchanged";
  s = db->Get(key, &got);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(got, "unchanged");

  // The rest of the README's tour.
  s = db->PutWithTTL("session", "abc", std::chrono::seconds(30));
  ASSERT_TRUE(s.ok()) << s.ToString();
  bitgask::WriteBatch batch;
  batch.Put("a", "1");
  batch.Delete("b");
  s = db->Write(bitgask::WriteOptions(), batch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db->CompareAndSwap("a", "1", "2");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(db->CompareAndSwap("a", "1", "3").IsConflict());
  ASSERT_TRUE(db->Put("user:1", "ann").ok());
  std::vector<std::string> seen;
  db->Scan("user:", [&](std::string_view key, std::string_view value) {
    seen.push_back(std::string(key) + "=" + std::string(value));
    return true;
  });
  EXPECT_EQ(seen, std::vector<std::string>{"user:1=ann"});
  bitgask::MergeResult merged;
  s = db->Merge({/*force=*/true}, &merged);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(merged.ran);
  s = db->Backup(std::string(tmpl) + "/backup");
  ASSERT_TRUE(s.ok()) << s.ToString();
  db.reset();
  ASSERT_TRUE(bitgask::DB::Open(std::string(tmpl) + "/backup", opts, &db).ok());
  ASSERT_TRUE(db->Get("a", &got).ok());
  EXPECT_EQ(got, "2");
  db.reset();
  ASSERT_EQ(system(("rm -rf '" + std::string(tmpl) + "'").c_str()), 0);
}

}  // namespace
