// cli_io: byte-exact standard input and output, and keys shown in messages.
//
// Contract: values and keys pass through stdin/stdout unchanged (any byte,
// NUL included); failures are reported, never ignored. ShowBytes makes a key
// safe for a one-line message. No store access.
#ifndef BITGASK_SRC_CLI_CLI_IO_H_
#define BITGASK_SRC_CLI_CLI_IO_H_

#include <string>
#include <string_view>

namespace bitgask {
namespace cli {

// Reads fd to its end into *out. False and *error (with strerror) on failure.
bool ReadAll(int fd, std::string* out, std::string* error);
// Writes bytes to stdout (buffered). False once stdout has failed.
bool WriteOut(std::string_view bytes);
// Flushes stdout; false (and *error) when it or any earlier write failed.
bool FinishOut(std::string* error);
// WriteOut and FinishOut: 0, or 1 with the message printed (Fail).
int PrintOut(std::string_view bytes);

// The bytes as printable ASCII for messages: printable characters as they
// are, backslash as "\\", anything else as "\xNN". Long input is cut at
// max_len characters of output with "..." appended.
std::string ShowBytes(std::string_view bytes, size_t max_len = 200);

// Prints "bitgask: <message>" and a newline on stderr; returns 1 (the exit
// code of a failure).
int Fail(const std::string& message);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_CLI_IO_H_
