// The public API as a user program sees it: built with only the public
// include directory (engine/include) and linked against libbitgask.a, so a
// header that leaks an internal include fails this build.
#include <bitgask/db.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <string>

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
  db.reset();
  ASSERT_EQ(system(("rm -rf '" + std::string(tmpl) + "'").c_str()), 0);
}

}  // namespace
