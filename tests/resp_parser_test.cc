// RespParser: frames split at every byte, pipelining, inline commands, bad
// lengths and counts, and the limits.
#include "resp_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bitgask {
namespace server {
namespace {

using Args = std::vector<std::string>;

// Feeds `stream` in pieces cut at `cuts` (offsets, ascending), the way a
// server does: unconsumed bytes stay in the buffer and new bytes are appended.
// Returns the commands; *error gets the protocol error, if any.
std::vector<Args> Parse(const std::string& stream, const std::vector<size_t>& cuts,
                      std::string* error = nullptr, RespLimits limits = RespLimits()) {
  RespParser p(limits);
  std::vector<Args> out;
  std::string buf;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    buf.append(stream, fed, end - fed);
    fed = end;
    while (true) {
      size_t used = 0;
      RespParser::Result r = p.Feed(buf.data(), buf.size(), &used);
      buf.erase(0, used);
      if (r == RespParser::Result::kCommand) {
        out.push_back(p.argv());
        continue;
      }
      if (r == RespParser::Result::kError) {
        if (error) *error = p.error();
        return out;
      }
      break;
    }
  }
  EXPECT_TRUE(buf.empty() || error != nullptr) << "left over: " << buf;
  return out;
}

TEST(RespParserTest, MultibulkInOnePiece) {
  auto cmds = Parse("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", {});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Args{"SET", "k", "hello"}));
}

TEST(RespParserTest, EverySplitPointOfAFrame) {
  // Binary-safe bulk with CR, LF and NUL inside, and an empty bulk.
  const std::string value("a\r\nb\0c", 6);
  const std::string frame = "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\n" + value + "\r\n$0\r\n\r\n";
  for (size_t cut = 0; cut <= frame.size(); ++cut) {
    auto cmds = Parse(frame, {cut});
    ASSERT_EQ(cmds.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(cmds[0], (Args{"SET", "k", value, ""})) << "cut at " << cut;
  }
  // And every pair of split points.
  for (size_t a = 0; a <= frame.size(); ++a) {
    for (size_t b = a; b <= frame.size(); ++b) {
      auto cmds = Parse(frame, {a, b});
      ASSERT_EQ(cmds.size(), 1u) << a << "," << b;
      EXPECT_EQ(cmds[0][2], value);
    }
  }
}

TEST(RespParserTest, OneByteAtATime) {
  const std::string stream = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n";
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  auto cmds = Parse(stream, cuts);
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0], (Args{"PING"}));
  EXPECT_EQ(cmds[1], (Args{"ECHO", "hi"}));
  EXPECT_EQ(cmds[2], (Args{"GET", "x"}));
}

TEST(RespParserTest, PipelinedRequestsAllCome) {
  std::string stream;
  for (int i = 0; i < 100; ++i) {
    std::string k = "key" + std::to_string(i);
    stream += "*2\r\n$3\r\nGET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
  }
  auto cmds = Parse(stream, {});
  ASSERT_EQ(cmds.size(), 100u);
  EXPECT_EQ(cmds[99][1], "key99");
}

TEST(RespParserTest, InlineCommands) {
  auto cmds = Parse("PING\r\n\r\n  set  k   v \nget k\r\n", {});
  ASSERT_EQ(cmds.size(), 3u);  // the empty line is skipped
  EXPECT_EQ(cmds[0], (Args{"PING"}));
  EXPECT_EQ(cmds[1], (Args{"set", "k", "v"}));
  EXPECT_EQ(cmds[2], (Args{"get", "k"}));
}

TEST(RespParserTest, InlineQuotesAndEscapes) {
  auto cmds = Parse("set \"a b\" 'c d' \"x\\n\\x41\\\"\" 'it\\'s'\r\n", {});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Args{"set", "a b", "c d", "x\nA\"", "it's"}));
  std::string err;
  Parse("set \"unclosed\r\n", {}, &err);
  EXPECT_EQ(err, "Protocol error: unbalanced quotes in request");
  err.clear();
  Parse("set \"a\"b\r\n", {}, &err);
  EXPECT_EQ(err, "Protocol error: unbalanced quotes in request");
}

TEST(RespParserTest, EmptyAndNegativeCountsAreSkipped) {
  auto cmds = Parse("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", {});
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0], (Args{"PING"}));
}

TEST(RespParserTest, BadLengths) {
  const std::pair<const char*, const char*> cases[] = {
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*1x\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*99999999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"},
      {"*1\r\n$3\r\nabcde\r\n", "Protocol error: expected CRLF after bulk"},
  };
  for (const auto& c : cases) {
    std::string err;
    auto cmds = Parse(c.first, {}, &err);
    EXPECT_TRUE(cmds.empty()) << c.first;
    EXPECT_EQ(err, c.second) << c.first;
  }
}

TEST(RespParserTest, HugeCountsAreRefusedWithoutAllocating) {
  std::string err;
  Parse("*1048577\r\n", {}, &err);  // one over the default max_args
  EXPECT_EQ(err, "Protocol error: invalid multibulk length");
  err.clear();
  Parse("*9223372036854775807\r\n", {}, &err);
  EXPECT_EQ(err, "Protocol error: invalid multibulk length");
  err.clear();
  // A huge but allowed count is only a claim: nothing is reserved for it.
  RespParser p;
  size_t used = 0;
  EXPECT_EQ(p.Feed("*1048576\r\n", 10, &used), RespParser::Result::kNeedMore);
  EXPECT_EQ(used, 10u);
  EXPECT_LE(p.argv().capacity(), 1024u);
  Parse("*1\r\n$536870913\r\n", {}, &err);  // 512 MiB + 1
  EXPECT_EQ(err, "Protocol error: invalid bulk length");
}

TEST(RespParserTest, ConfiguredLimits) {
  RespLimits lim;
  lim.max_bulk_len = 4;
  lim.max_args = 2;
  lim.max_inline_len = 16;
  std::string err;
  auto ok = Parse("*2\r\n$3\r\nGET\r\n$4\r\nabcd\r\n", {}, &err, lim);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_TRUE(err.empty());
  Parse("*2\r\n$3\r\nGET\r\n$5\r\nabcde\r\n", {}, &err, lim);
  EXPECT_EQ(err, "Protocol error: invalid bulk length");
  err.clear();
  Parse("*3\r\n", {}, &err, lim);
  EXPECT_EQ(err, "Protocol error: invalid multibulk length");
  err.clear();
  Parse("a b c\r\n", {}, &err, lim);  // three inline words: over max_args
  EXPECT_EQ(err, "Protocol error: invalid multibulk length");
  err.clear();
  // Inline line over the limit, with and without its end having arrived.
  Parse(std::string(17, 'x') + "\r\n", {}, &err, lim);
  EXPECT_EQ(err, "Protocol error: too big inline request");
  err.clear();
  Parse(std::string(40, 'x'), {}, &err, lim);
  EXPECT_EQ(err, "Protocol error: too big inline request");
  err.clear();
  Parse("*" + std::string(40, '1'), {}, &err, lim);
  EXPECT_EQ(err, "Protocol error: too big mbulk count string");
  err.clear();
  Parse("*1\r\n$" + std::string(40, '1'), {}, &err, lim);
  EXPECT_EQ(err, "Protocol error: too big bulk count string");
}

TEST(RespParserTest, PendingBytesCountsPartialRequest) {
  RespParser p;
  const std::string part = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc";
  size_t used = 0;
  EXPECT_EQ(p.Feed(part.data(), part.size(), &used), RespParser::Result::kNeedMore);
  EXPECT_EQ(p.pending_bytes(), 4u);  // SET and k are held; the value is not yet taken
  EXPECT_EQ(part.substr(used), "abc");
}

}  // namespace
}  // namespace server
}  // namespace bitgask
