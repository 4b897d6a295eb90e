// Glob matching with Redis's rules, for KEYS, SCAN MATCH and CONFIG GET.
//
//   *        any run of bytes, also empty
//   ?        any one byte
//   [abc]    one of the bytes; [^abc] none of them; [a-z] a range (reversed
//            ends are swapped); \x inside a class is a literal x; a class
//            with no closing ] runs to the end of the pattern
//   \x       a literal x (a trailing \ matches itself)
//   anything else matches itself (bytes, case-sensitive unless nocase)
// Runs in O(pattern * string) time without recursion, so no pattern can
// exhaust the stack or take exponential time.
#ifndef BITGASK_SERVER_GLOB_H_
#define BITGASK_SERVER_GLOB_H_

#include <string_view>

namespace bitgask {
namespace server {

bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase = false);

// The bytes every match must start with: the pattern up to its first special
// character (* ? [ \). "user:*" -> "user:". Lets a scan start at that prefix.
std::string_view GlobLiteralPrefix(std::string_view pattern);

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_GLOB_H_
