#include "resp_parser.h"

#include <cctype>
#include <cstdio>
#include <cstring>

namespace bitgask {
namespace server {

namespace {

// Strict decimal: optional '-', digits, no overflow of int64, nothing else.
bool ParseLength(const char* p, size_t n, int64_t* out) {
  if (n == 0 || n > 20) return false;
  bool neg = p[0] == '-';
  size_t i = neg ? 1 : 0;
  if (i == n) return false;
  uint64_t v = 0;
  for (; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    uint64_t d = static_cast<uint64_t>(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return false;
  *out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

// Finds the "\r\n" that ends a header line starting at data[0]. Returns its
// offset, or -1 when not all there yet.
ptrdiff_t FindCrlf(const char* data, size_t n) {
  const void* cr = n > 0 ? std::memchr(data, '\r', n) : nullptr;
  if (cr == nullptr) return -1;
  ptrdiff_t at = static_cast<const char*>(cr) - data;
  if (static_cast<size_t>(at) + 1 >= n) return -1;
  return at;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0;
  const size_t n = line.size();
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (true) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) return true;
    std::string word;
    bool in_dq = false, in_sq = false, done = false;
    while (!done) {
      if (in_dq) {
        if (i == n) return false;  // unterminated "
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          word.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 4;
        } else if (line[i] == '\\' && i + 1 < n) {
          char c = line[i + 1];
          switch (c) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'b': c = '\b'; break;
            case 'a': c = '\a'; break;
            default: break;
          }
          word.push_back(c);
          i += 2;
        } else if (line[i] == '"') {
          // The closing quote must end the word.
          if (i + 1 < n && !is_space(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          word.push_back(line[i++]);
        }
      } else if (in_sq) {
        if (i == n) return false;  // unterminated '
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          word.push_back('\'');
          i += 2;
        } else if (line[i] == '\'') {
          if (i + 1 < n && !is_space(line[i + 1])) return false;
          ++i;
          done = true;
        } else {
          word.push_back(line[i++]);
        }
      } else if (i == n || is_space(line[i])) {
        done = true;
      } else if (line[i] == '"') {
        in_dq = true;
        ++i;
      } else if (line[i] == '\'') {
        in_sq = true;
        ++i;
      } else {
        word.push_back(line[i++]);
      }
    }
    out->push_back(std::move(word));
  }
}

RespParser::Result RespParser::Fail(const char* what) {
  error_ = std::string("Protocol error: ") + what;
  return Result::kError;
}

RespParser::Result RespParser::ReadHeader(const char* data, size_t n, size_t* pos,
                                          const char* too_big, int64_t* value) {
  const char* line = data + *pos;
  ptrdiff_t cr = FindCrlf(line, n - *pos);
  if (cr < 0) {
    // Not all there yet. The line is at least this long; a CR at the very end
    // may be its end, so it does not count (the same verdict as when the
    // CRLF arrives in the same read).
    size_t have = n - *pos;
    if (line[have - 1] == '\r') --have;
    if (have > limits_.max_inline_len) return Fail(too_big);
    return Result::kNeedMore;
  }
  if (static_cast<size_t>(cr) > limits_.max_inline_len) return Fail(too_big);
  if (!ParseLength(line + 1, static_cast<size_t>(cr) - 1, value)) {
    return Fail(line[0] == '*' ? "invalid multibulk length" : "invalid bulk length");
  }
  *pos += static_cast<size_t>(cr) + 2;
  return Result::kCommand;
}

RespParser::Result RespParser::ParseInline(const char* data, size_t n, size_t* consumed) {
  *consumed = 0;
  const void* nl = std::memchr(data, '\n', n);
  if (nl == nullptr) {
    if (n > limits_.max_inline_len) return Fail("too big inline request");
    return Result::kNeedMore;
  }
  size_t len = static_cast<size_t>(static_cast<const char*>(nl) - data);
  if (len > limits_.max_inline_len) return Fail("too big inline request");
  *consumed = len + 1;
  if (len > 0 && data[len - 1] == '\r') --len;
  if (!SplitInlineArgs(std::string_view(data, len), &argv_)) {
    return Fail("unbalanced quotes in request");
  }
  if (argv_.size() > limits_.max_args) return Fail("invalid multibulk length");
  return argv_.empty() ? Result::kNeedMore : Result::kCommand;
}

RespParser::Result RespParser::Feed(const char* data, size_t n, size_t* consumed) {
  size_t pos = 0;
  *consumed = 0;
  while (true) {
    if (!in_multibulk_) {
      if (pos == n) return Result::kNeedMore;
      if (data[pos] != '*') {
        size_t used = 0;
        Result r = ParseInline(data + pos, n - pos, &used);
        if (r == Result::kError) return r;
        pos += used;
        *consumed = pos;
        if (r == Result::kCommand) return r;
        if (used == 0) return Result::kNeedMore;
        continue;  // an empty line: skip it
      }
      int64_t count = 0;
      Result r = ReadHeader(data, n, &pos, "too big mbulk count string", &count);
      if (r != Result::kCommand) return r;
      if (count > 0 && static_cast<uint64_t>(count) > limits_.max_args) {
        return Fail("invalid multibulk length");
      }
      *consumed = pos;
      if (count <= 0) continue;
      in_multibulk_ = true;
      args_left_ = static_cast<uint64_t>(count);
      bulk_len_ = -1;
      argv_.clear();
      // Reserve modestly: the count is only a claim until the bytes arrive.
      argv_.reserve(count < 1024 ? static_cast<size_t>(count) : 1024);
      pending_bytes_ = 0;
    }
    while (args_left_ > 0) {
      if (bulk_len_ < 0) {
        if (pos == n) return Result::kNeedMore;
        if (data[pos] != '$') {
          char what[48];
          std::snprintf(what, sizeof(what), "expected '$', got '%c'", data[pos]);
          return Fail(what);
        }
        int64_t len = 0;
        Result r = ReadHeader(data, n, &pos, "too big bulk count string", &len);
        if (r != Result::kCommand) return r;
        if (len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_len) {
          return Fail("invalid bulk length");
        }
        bulk_len_ = len;
        *consumed = pos;
      }
      const size_t len = static_cast<size_t>(bulk_len_);
      if (n - pos < len + 2) return Result::kNeedMore;
      if (data[pos + len] != '\r' || data[pos + len + 1] != '\n') {
        return Fail("expected CRLF after bulk");
      }
      argv_.emplace_back(data + pos, len);
      pending_bytes_ += len;
      pos += len + 2;
      *consumed = pos;
      bulk_len_ = -1;
      --args_left_;
    }
    in_multibulk_ = false;
    pending_bytes_ = 0;
    return Result::kCommand;
  }
}

}  // namespace server
}  // namespace bitgask
