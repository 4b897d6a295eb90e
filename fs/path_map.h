// path_map: the mapping between filesystem paths and store keys.
//
// Contract (docs/Filesystem.md):
//   * A path is kept WITHOUT its leading '/': the root is "", the file
//     /a/b/c.txt is "a/b/c.txt" and its key is exactly that string.
//   * A directory "a/b" exists when its marker key "a/b/" exists (written by
//     mkdir, value empty, mode S_IFDIR|perm) or when any key starts with
//     "a/b/".  The root always exists.
//   * A key is shown at its path only when KeyPath() accepts it: every
//     component a valid name (non-empty, not "." or "..", at most
//     kMaxNameLen bytes, no NUL) and not under the reserved ".bitgask".  The
//     store may still shadow it (a file key that is also a directory prefix:
//     the directory wins; see key_view.h).  Keys not shown at a path are
//     listed under /.bitgask/unmapped/ (unmapped_name.h).
//   * Paths under "/.bitgask" are reserved for the control files.
// Pure functions: no locks, no engine calls.
#ifndef BITGASK_FS_PATH_MAP_H_
#define BITGASK_FS_PATH_MAP_H_

#include <string>
#include <string_view>

namespace bitgask {
namespace fs {

// Longest name of one path component (as most Linux filesystems).
constexpr size_t kMaxNameLen = 255;

// The child path of parent ("" is the root) named name.
std::string JoinPath(std::string_view parent, std::string_view name);
// The path of the parent directory ("" for a top-level entry or the root).
std::string ParentPath(std::string_view path);
// The key prefix of the directory path: "" for the root, else path + "/".
std::string DirPrefix(std::string_view path);
// The marker key of the directory path (path + "/"); REQUIRES: !path.empty().
std::string DirMarker(std::string_view path);
// A name the filesystem can show: non-empty, not "." / "..", no '/'.
bool IsValidName(std::string_view name);
// A valid name that also fits kMaxNameLen.
bool IsShowableName(std::string_view name);
// If key can be shown at a path, sets *path (no trailing '/') and
// *is_marker (the key ends in '/': a directory marker) and returns true.
bool KeyPath(std::string_view key, std::string* path, bool* is_marker);
// True for ".bitgask" and everything under it.
bool IsReserved(std::string_view path);
// The key just past every key that starts with dir_prefix_without_slash + "/":
// '0' is the byte after '/', so Seek(SubtreeEnd("a/b")) skips "a/b/...".
std::string SubtreeEnd(std::string_view path);

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_PATH_MAP_H_
