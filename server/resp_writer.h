// RespWriter: appends RESP2 replies to a connection's output buffer.
//
// Contract: every call appends one complete reply (or, for ArrayHeader, the
// header of an array whose n elements the caller appends next) to the
// std::string it was built over. Nothing is sent here: the server writes the
// buffer once per event-loop turn, so pipelined replies leave in one write.
// Error() takes the text without the leading '-'; a text that starts with one
// of the codes ERR, NOAUTH, WRONGPASS, NOPROTO, WRONGTYPE and a space is sent
// as is, anything else gets "ERR " in front. CR and LF in simple strings and errors
// are replaced by spaces so a reply can never break the framing.
#ifndef BITGASK_SERVER_RESP_WRITER_H_
#define BITGASK_SERVER_RESP_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace bitgask {
namespace server {

class RespWriter {
 public:
  explicit RespWriter(std::string* out) : out_(out) {}

  void Simple(std::string_view s);          // +s
  void Ok() { out_->append("+OK\r\n"); }
  void Error(std::string_view s);           // -ERR s, or -CODE s
  void Integer(int64_t n);                  // :n
  void Bulk(std::string_view s);            // $len s
  void Null() { out_->append("$-1\r\n"); }  // nil bulk
  void NullArray() { out_->append("*-1\r\n"); }
  void ArrayHeader(size_t n);               // *n, then n replies

  std::string* buffer() { return out_; }

 private:
  void Line(char type, std::string_view s);
  std::string* out_;
};

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_RESP_WRITER_H_
