#include "path_map.h"

namespace bitgask {
namespace fs {

std::string JoinPath(std::string_view parent, std::string_view name) {
  std::string out;
  out.reserve(parent.size() + 1 + name.size());
  if (!parent.empty()) {
    out.append(parent);
    out.push_back('/');
  }
  out.append(name);
  return out;
}

std::string ParentPath(std::string_view path) {
  size_t pos = path.rfind('/');
  if (pos == std::string_view::npos) return std::string();
  return std::string(path.substr(0, pos));
}

std::string DirPrefix(std::string_view path) {
  if (path.empty()) return std::string();
  std::string out(path);
  out.push_back('/');
  return out;
}

std::string DirMarker(std::string_view path) { return DirPrefix(path); }

bool IsValidName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

bool IsShowableName(std::string_view name) {
  return name.size() <= kMaxNameLen && IsValidName(name);
}

bool KeyPath(std::string_view key, std::string* path, bool* is_marker) {
  *is_marker = !key.empty() && key.back() == '/';
  std::string_view p = *is_marker ? key.substr(0, key.size() - 1) : key;
  if (p.empty() || IsReserved(p)) return false;
  size_t start = 0;
  while (true) {
    size_t slash = p.find('/', start);
    std::string_view comp = p.substr(start, slash == std::string_view::npos ? p.npos : slash - start);
    if (!IsShowableName(comp)) return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  path->assign(p);
  return true;
}

bool IsReserved(std::string_view path) {
  static constexpr std::string_view kReserved = ".bitgask";
  if (path.substr(0, kReserved.size()) != kReserved) return false;
  return path.size() == kReserved.size() || path[kReserved.size()] == '/';
}

std::string SubtreeEnd(std::string_view path) {
  std::string out(path);
  out.push_back('0');
  return out;
}

}  // namespace fs
}  // namespace bitgask
