#include "bitgask/status.h"

#include <cerrno>

namespace bitgask {

Status::Status(Code code, std::string_view msg)
    : state_(new State{code, false, 0, std::string(msg)}) {}

Status::Status(const Status& other)
    : state_(other.state_ ? new State(*other.state_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) state_.reset(other.state_ ? new State(*other.state_) : nullptr);
  return *this;
}

Status Status::Expired(std::string_view msg) {
  Status s(Code::kNotFound, msg);
  s.state_->expired = true;
  return s;
}

Status Status::IOError(std::string_view msg, int err) {
  Status s(Code::kIOError, msg);
  s.state_->err = err;
  return s;
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->msg : kEmpty;
}

int Status::errno_value() const {
  switch (code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kCorruption: return EIO;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kTooLarge: return E2BIG;
    case Code::kIOError: return state_->err != 0 ? state_->err : EIO;
    case Code::kLocked: return EBUSY;
    case Code::kConflict: return EEXIST;
    case Code::kNotSupported: return ENOTSUP;
    case Code::kClosed: return EBADF;
  }
  return EIO;
}

std::string Status::ToString() const {
  if (!state_) return "OK";
  const char* name = "Unknown";
  switch (state_->code) {
    case Code::kOk: name = "OK"; break;
    case Code::kNotFound: name = state_->expired ? "Expired" : "NotFound"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kInvalidArgument: name = "Invalid argument"; break;
    case Code::kTooLarge: name = "Too large"; break;
    case Code::kIOError: name = "IO error"; break;
    case Code::kLocked: name = "Locked"; break;
    case Code::kConflict: name = "Conflict"; break;
    case Code::kNotSupported: name = "Not supported"; break;
    case Code::kClosed: name = "Closed"; break;
  }
  return std::string(name) + ": " + state_->msg;
}

}  // namespace bitgask
