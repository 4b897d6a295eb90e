// GlobMatch: Redis's glob rules for KEYS, SCAN MATCH and CONFIG GET.
#include "glob.h"

#include <gtest/gtest.h>

#include <string>

namespace bitgask {
namespace server {
namespace {

TEST(GlobTest, StarAndQuestion) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("user:*", "user:1"));
  EXPECT_TRUE(GlobMatch("user:*", "user:"));
  EXPECT_FALSE(GlobMatch("user:*", "use"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_FALSE(GlobMatch("h?llo", "hllo"));
  EXPECT_TRUE(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(GlobMatch("*a*b*c*", "xxaxxcxxbxx"));
  EXPECT_TRUE(GlobMatch("a**b", "ab"));
  EXPECT_TRUE(GlobMatch("*.txt", "a.b.txt"));
  EXPECT_FALSE(GlobMatch("*.txt", "a.txt.bak"));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("", ""));
}

TEST(GlobTest, Classes) {
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(GlobMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-b]llo", "hbllo"));
  EXPECT_FALSE(GlobMatch("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(GlobMatch("h[b-a]llo", "hallo"));  // reversed range
  EXPECT_TRUE(GlobMatch("[\\]]", "]"));          // escaped ] inside a class
  EXPECT_TRUE(GlobMatch("x[abc", "xb"));         // unterminated class runs to the end
  EXPECT_FALSE(GlobMatch("[]", "a"));            // empty class matches nothing
}

TEST(GlobTest, Escapes) {
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("a\\?", "a?"));
  EXPECT_TRUE(GlobMatch("a\\", "a\\"));  // a trailing backslash matches itself
}

TEST(GlobTest, NoCase) {
  EXPECT_TRUE(GlobMatch("MaxClients", "maxclients", true));
  EXPECT_FALSE(GlobMatch("MaxClients", "maxclients", false));
  EXPECT_TRUE(GlobMatch("[A-C]x", "bX", true));
}

TEST(GlobTest, BinaryBytes) {
  const std::string key("a\0b", 3);
  EXPECT_TRUE(GlobMatch("a?b", key));
  EXPECT_TRUE(GlobMatch(std::string("a\0*", 3), key));
}

TEST(GlobTest, PathologicalPatternIsFast) {
  // Exponential for naive recursion; linear-ish here.
  std::string pattern, str(4000, 'a');
  for (int i = 0; i < 40; ++i) pattern += "*a";
  pattern += "*b";
  EXPECT_FALSE(GlobMatch(pattern, str));
}

TEST(GlobTest, LiteralPrefix) {
  EXPECT_EQ(GlobLiteralPrefix("user:*"), "user:");
  EXPECT_EQ(GlobLiteralPrefix("exact"), "exact");
  EXPECT_EQ(GlobLiteralPrefix("*x"), "");
  EXPECT_EQ(GlobLiteralPrefix("a?c"), "a");
  EXPECT_EQ(GlobLiteralPrefix("a[bc]"), "a");
  EXPECT_EQ(GlobLiteralPrefix("a\\*"), "a");
}

}  // namespace
}  // namespace server
}  // namespace bitgask
