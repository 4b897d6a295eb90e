#include "glob.h"

#include <cctype>
#include <utility>

namespace bitgask {
namespace server {

namespace {

unsigned char Fold(char c, bool nocase) {
  unsigned char u = static_cast<unsigned char>(c);
  return nocase ? static_cast<unsigned char>(std::tolower(u)) : u;
}

// Matches one byte c against the single-byte token at pattern[p] (a literal,
// an escape, '?' or a class). Sets *next to the index after the token.
bool MatchOne(std::string_view pat, size_t p, char c, bool nocase, size_t* next) {
  const size_t m = pat.size();
  const unsigned char ch = Fold(c, nocase);
  if (pat[p] == '?') {
    *next = p + 1;
    return true;
  }
  if (pat[p] == '[') {
    ++p;
    bool negate = p < m && pat[p] == '^';
    if (negate) ++p;
    bool match = false;
    while (p < m) {
      if (pat[p] == '\\' && m - p >= 2) {
        if (Fold(pat[p + 1], nocase) == ch) match = true;
        p += 2;
      } else if (pat[p] == ']') {
        break;
      } else if (m - p >= 3 && pat[p + 1] == '-') {
        unsigned char lo = Fold(pat[p], nocase), hi = Fold(pat[p + 2], nocase);
        if (lo > hi) std::swap(lo, hi);
        if (ch >= lo && ch <= hi) match = true;
        p += 3;
      } else {
        if (Fold(pat[p], nocase) == ch) match = true;
        ++p;
      }
    }
    *next = p < m ? p + 1 : p;  // past the ']' (or at the end if unterminated)
    return negate ? !match : match;
  }
  if (pat[p] == '\\' && m - p >= 2) ++p;
  *next = p + 1;
  return Fold(pat[p], nocase) == ch;
}

}  // namespace

bool GlobMatch(std::string_view pat, std::string_view str, bool nocase) {
  size_t p = 0, s = 0;
  // Where to resume after the last '*': the pattern index after it, and the
  // string index it currently stands for.
  size_t star_p = std::string_view::npos, star_s = 0;
  while (s < str.size()) {
    if (p < pat.size() && pat[p] == '*') {
      while (p < pat.size() && pat[p] == '*') ++p;
      if (p == pat.size()) return true;
      star_p = p;
      star_s = s;
      continue;
    }
    size_t next = 0;
    if (p < pat.size() && MatchOne(pat, p, str[s], nocase, &next)) {
      p = next;
      ++s;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    // Let the last '*' swallow one more byte and try again from there.
    p = star_p;
    s = ++star_s;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

std::string_view GlobLiteralPrefix(std::string_view pattern) {
  size_t i = pattern.find_first_of("*?[\\");
  return i == std::string_view::npos ? pattern : pattern.substr(0, i);
}

}  // namespace server
}  // namespace bitgask
