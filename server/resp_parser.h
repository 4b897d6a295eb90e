// RespParser: incremental parser of client requests in RESP2.
//
// A request is either a multibulk (`*N\r\n` then N times `$LEN\r\n<LEN bytes>\r\n`)
// or an inline command (one line of words, as typed in telnet: `PING\r\n`;
// double quotes with \n \r \t \" \\ \xHH escapes and single quotes group words).
//
// Contract:
//   * Feed() takes any slice of the byte stream: a request may arrive split at
//     any byte, or many requests may arrive at once (pipelining). It consumes
//     what it can and returns kCommand as soon as one request is complete (the
//     caller then takes argv() and calls Feed() again with the rest of its
//     buffer), kNeedMore when all given bytes were consumed without completing
//     one, or kError on a protocol violation (error() then holds Redis's
//     wording, e.g. "Protocol error: invalid bulk length"; the connection must
//     be closed after replying, since the stream can no longer be framed).
//   * Bytes are consumed only when they complete an element, so the caller
//     keeps the unconsumed tail and must present it again, followed by new
//     bytes. Each bulk is copied exactly once, into argv.
//   * Limits (RespLimits) are checked before memory is reserved, so a huge
//     announced length or count never allocates: an oversized bulk length or
//     argument count is a protocol error as in Redis.
//   * An empty inline line and `*0` / `*-1` are skipped (no command).
// Not thread-safe: one parser per connection.
#ifndef BITGASK_SERVER_RESP_PARSER_H_
#define BITGASK_SERVER_RESP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitgask {
namespace server {

struct RespLimits {
  uint64_t max_bulk_len = 512ull << 20;  // one argument (Redis's proto-max-bulk-len)
  uint64_t max_args = 1024 * 1024;       // arguments of one multibulk request
  size_t max_inline_len = 64 * 1024;     // one inline line, or one `*N` / `$N` header line
};

class RespParser {
 public:
  enum class Result { kNeedMore, kCommand, kError };

  explicit RespParser(const RespLimits& limits = RespLimits()) : limits_(limits) {}

  // Parses from data[0, n); *consumed is set to the bytes used (<= n).
  Result Feed(const char* data, size_t n, size_t* consumed);

  // The arguments of the request Feed() just completed (valid until the next
  // Feed); the caller may move them out.
  std::vector<std::string>& argv() { return argv_; }
  const std::string& error() const { return error_; }
  // Bytes of a request in progress held in argv (for the query buffer limit).
  size_t pending_bytes() const { return pending_bytes_; }

 private:
  Result ParseInline(const char* data, size_t n, size_t* consumed);
  // Reads the `*N` or `$N` line at data[*pos]: kCommand (and *pos past the
  // line) when whole, kNeedMore, or kError (a bad number, or a line over the
  // limit: too_big).
  Result ReadHeader(const char* data, size_t n, size_t* pos, const char* too_big,
                    int64_t* value);
  Result Fail(const char* what);

  RespLimits limits_;
  std::vector<std::string> argv_;
  std::string error_;
  // Multibulk state: arguments still expected (0: between requests), and the
  // length of the next bulk (-1: its `$` header not read yet).
  uint64_t args_left_ = 0;
  int64_t bulk_len_ = -1;
  bool in_multibulk_ = false;
  size_t pending_bytes_ = 0;
};

// Splits an inline request line into words (Redis's rules: spaces separate,
// "..." with escapes and '...' group). False on unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_RESP_PARSER_H_
