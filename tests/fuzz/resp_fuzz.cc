// Fuzz target: the RESP request parser (server/resp_parser.h).
//
// Input: one byte that chooses where to split the stream, then the bytes a
// client sends. The stream is parsed twice, whole and in pieces (the server
// sees any split), with small limits so huge lengths and counts are reached.
// Checked properties:
//   * both parses give the same commands (same arguments) in the same order
//     and stop at the same protocol error, if any: framing does not depend on
//     how the bytes arrive;
//   * no argument is longer than max_bulk_len, no request has more than
//     max_args arguments, and the bytes held for a request in progress stay
//     within what the limits allow.
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "resp_parser.h"

using bitgask::server::RespLimits;
using bitgask::server::RespParser;

namespace {

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;  // the protocol error that ended the stream, if any
};

RespLimits SmallLimits() {
  RespLimits l;
  l.max_bulk_len = 4096;
  l.max_args = 64;
  l.max_inline_len = 1024;
  return l;
}

// Feeds the stream in pieces of at most `piece` bytes (0: all at once),
// keeping the unconsumed tail as a server does.
Outcome Parse(const std::string& stream, size_t piece) {
  const RespLimits limits = SmallLimits();
  RespParser parser(limits);
  Outcome out;
  std::string buf;
  size_t fed = 0;
  while (fed < stream.size() || !buf.empty()) {
    if (fed < stream.size()) {
      const size_t n = piece == 0 ? stream.size() - fed : std::min(piece, stream.size() - fed);
      buf.append(stream, fed, n);
      fed += n;
    }
    size_t used = 0;
    bool progress = false;
    for (;;) {
      size_t consumed = 0;
      RespParser::Result r = parser.Feed(buf.data() + used, buf.size() - used, &consumed);
      used += consumed;
      FUZZ_CHECK(parser.pending_bytes() <=
                 limits.max_args * (limits.max_bulk_len + 64) + limits.max_inline_len);
      if (r == RespParser::Result::kError) {
        out.error = parser.error();
        return out;
      }
      if (r == RespParser::Result::kNeedMore) break;
      progress = true;
      FUZZ_CHECK(parser.argv().size() <= limits.max_args);
      for (const std::string& a : parser.argv()) FUZZ_CHECK(a.size() <= limits.max_bulk_len);
      out.commands.push_back(parser.argv());
    }
    buf.erase(0, used);
    if (fed == stream.size() && !progress) break;  // an unfinished request at the end
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 7;
  const std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = Parse(stream, 0);
  const Outcome split = Parse(stream, piece);
  FUZZ_CHECK(whole.error == split.error);
  FUZZ_CHECK(whole.commands == split.commands);
  return 0;
}
