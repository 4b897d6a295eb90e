// path_map: the mapping between filesystem paths and store keys.
//
// Contract (docs/Filesystem.md):
//   * A path is kept WITHOUT its leading '/': the root is "", the file
//     /a/b/c.txt is "a/b/c.txt" and its key is exactly that string.
//   * A directory "a/b" exists when its marker key "a/b/" exists (written by
//     mkdir, value empty, mode S_IFDIR|perm) or when any key starts with
//     "a/b/".  The root always exists.
//   * A key is shown only when every component is a valid name (non-empty,
//     not "." or ".."); other keys are invisible in this slice.
//   * Paths under "/.bitgask" are reserved (control files, later).
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
// True for ".bitgask" and everything under it.
bool IsReserved(std::string_view path);
// The key just past every key that starts with dir_prefix_without_slash + "/":
// '0' is the byte after '/', so Seek(SubtreeEnd("a/b")) skips "a/b/...".
std::string SubtreeEnd(std::string_view path);

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_PATH_MAP_H_
