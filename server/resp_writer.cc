#include "resp_writer.h"

#include <charconv>

namespace bitgask {
namespace server {

namespace {

void AppendNumber(std::string* out, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), n);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

// "NOAUTH Authentication required." -> true; "value is ..." -> false.
bool HasErrorCode(std::string_view s) {
  for (std::string_view code : {"ERR ", "NOAUTH ", "WRONGPASS ", "NOPROTO ", "WRONGTYPE "}) {
    if (s.substr(0, code.size()) == code) return true;
  }
  return false;
}

}  // namespace

void RespWriter::Line(char type, std::string_view s) {
  out_->push_back(type);
  size_t start = out_->size();
  out_->append(s);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void RespWriter::Simple(std::string_view s) { Line('+', s); }

void RespWriter::Error(std::string_view s) {
  if (HasErrorCode(s)) {
    Line('-', s);
  } else {
    std::string text = "ERR ";
    text.append(s);
    Line('-', text);
  }
}

void RespWriter::Integer(int64_t n) {
  out_->push_back(':');
  AppendNumber(out_, n);
  out_->append("\r\n");
}

void RespWriter::Bulk(std::string_view s) {
  out_->push_back('$');
  AppendNumber(out_, static_cast<int64_t>(s.size()));
  out_->append("\r\n");
  out_->append(s);
  out_->append("\r\n");
}

void RespWriter::ArrayHeader(size_t n) {
  out_->push_back('*');
  AppendNumber(out_, static_cast<int64_t>(n));
  out_->append("\r\n");
}

}  // namespace server
}  // namespace bitgask
