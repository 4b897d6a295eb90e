// Status: the result of every bitgask operation that can fail.
//
// A Status is cheap to create and copy when OK (no allocation). Errors carry a
// code, a human-readable message and, for I/O errors, the errno that caused
// them so that front ends (the filesystem, the server) can map them to POSIX
// errors. No bitgask call throws across the public API.
#ifndef BITGASK_STATUS_H_
#define BITGASK_STATUS_H_

#include <memory>
#include <string>
#include <string_view>

namespace bitgask {

class Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,         // key absent (or expired)
    kCorruption,       // checksum mismatch, torn or malformed data
    kInvalidArgument,  // bad key, bad option, bad path
    kTooLarge,         // key or value over the configured limit
    kIOError,          // the operating system refused (errno() says why)
    kLocked,           // another process holds the store
    kConflict,         // a conditional write lost (compare-and-set, put-if-absent)
    kNotSupported,
    kClosed,           // the DB was closed
  };

  Status() noexcept = default;
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  // A key that expired: IsNotFound() and IsExpired() are both true.
  static Status Expired(std::string_view msg);
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status TooLarge(std::string_view msg) { return Status(Code::kTooLarge, msg); }
  // err is the errno value; 0 when unknown (then errno() reports EIO).
  static Status IOError(std::string_view msg, int err = 0);
  static Status Locked(std::string_view msg) { return Status(Code::kLocked, msg); }
  static Status Conflict(std::string_view msg) { return Status(Code::kConflict, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status Closed(std::string_view msg) { return Status(Code::kClosed, msg); }

  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsExpired() const { return state_ && state_->expired; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsTooLarge() const { return code() == Code::kTooLarge; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsLocked() const { return code() == Code::kLocked; }
  bool IsConflict() const { return code() == Code::kConflict; }
  bool IsNotSupported() const { return code() == Code::kNotSupported; }
  bool IsClosed() const { return code() == Code::kClosed; }

  // The message without the code name ("" when OK).
  const std::string& message() const;
  // The POSIX errno that best describes this status (0 when OK): ENOENT,
  // EIO, EINVAL, E2BIG, EBUSY, EEXIST, ENOTSUP, EBADF, or the I/O error's own.
  int errno_value() const;
  // "OK", or "<code name>: <message>", e.g. "Corruption: data/000000003.data
  // offset 4096: checksum mismatch".
  std::string ToString() const;

 private:
  struct State {
    Code code;
    bool expired;
    int err;
    std::string msg;
  };
  Status(Code code, std::string_view msg);

  std::unique_ptr<State> state_;  // nullptr means OK
};

}  // namespace bitgask

#endif  // BITGASK_STATUS_H_
