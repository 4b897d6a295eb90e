// fs_tree: reads a whole directory tree with plain syscalls into a map, and
// prints the difference of two such maps.  Used by the filesystem tests
// (fs_crash_tool, fs_model_test) to compare a mount with what it must hold.
//
// Contract: ReadTree(root, &tree) walks root (not following symlinks) and
// records every entry below it by its path relative to root ("a/b"): its
// type, permission bits, mtime, and for regular files the whole content.
// The mount's control directory /.bitgask (kControlDir) is not part of the
// tree.
// Returns false with *error set when a syscall fails.  No locks, header-only.
#ifndef BITGASK_TESTS_FS_TREE_H_
#define BITGASK_TESTS_FS_TREE_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>
#include <string>

namespace bitgask {
namespace test {

constexpr const char* kControlDir = ".bitgask";

struct TreeNode {
  bool is_dir = false;
  unsigned perm = 0;         // mode & 07777
  int64_t mtime_ns = 0;
  std::string content;       // regular files only

  // Same type, permissions and content (mtime is compared separately).
  bool operator==(const TreeNode& o) const {
    return is_dir == o.is_dir && perm == o.perm && content == o.content;
  }
  bool operator!=(const TreeNode& o) const { return !(*this == o); }
};

using Tree = std::map<std::string, TreeNode>;

// Reads the file at path whole into *out; returns 0 or an errno.
inline int ReadWholeFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return errno;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      int e = errno;
      close(fd);
      return e;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  return close(fd) == 0 ? 0 : errno;
}

inline bool ReadTreeBelow(const std::string& root, const std::string& rel, Tree* tree,
                          std::string* error) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    *error = "opendir " + dir + ": " + std::strerror(errno);
    return false;
  }
  bool ok = true;
  errno = 0;
  while (struct dirent* de = readdir(d)) {
    std::string name = de->d_name;
    if (name == "." || name == ".." || (rel.empty() && name == kControlDir)) continue;
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (lstat((root + "/" + path).c_str(), &st) != 0) {
      *error = "lstat " + path + ": " + std::strerror(errno);
      ok = false;
      break;
    }
    TreeNode node;
    node.is_dir = S_ISDIR(st.st_mode);
    node.perm = st.st_mode & 07777;
    node.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (S_ISREG(st.st_mode)) {
      int e = ReadWholeFile(root + "/" + path, &node.content);
      if (e != 0) {
        *error = "read " + path + ": " + std::strerror(e);
        ok = false;
        break;
      }
    } else if (!node.is_dir) {
      *error = path + " is neither a file nor a directory";
      ok = false;
      break;
    }
    (*tree)[path] = node;
    if (node.is_dir && !ReadTreeBelow(root, path, tree, error)) {
      ok = false;
      break;
    }
    errno = 0;
  }
  if (ok && errno != 0) {
    *error = "readdir " + dir + ": " + std::strerror(errno);
    ok = false;
  }
  closedir(d);
  return ok;
}

inline bool ReadTree(const std::string& root, Tree* tree, std::string* error) {
  tree->clear();
  return ReadTreeBelow(root, "", tree, error);
}

inline std::string DescribeNode(const TreeNode& n) {
  std::ostringstream os;
  os << (n.is_dir ? "dir" : "file") << " mode " << std::oct << n.perm << std::dec;
  if (!n.is_dir) os << " size " << n.content.size();
  return os.str();
}

// One line per path that differs between want and got; empty when equal.
inline std::string DiffTrees(const Tree& want, const Tree& got) {
  std::ostringstream os;
  for (const auto& [path, w] : want) {
    auto it = got.find(path);
    if (it == got.end()) {
      os << "  missing " << path << " (want " << DescribeNode(w) << ")\n";
    } else if (it->second != w) {
      os << "  differs " << path << ": want " << DescribeNode(w) << ", got "
         << DescribeNode(it->second);
      if (!w.is_dir && !it->second.is_dir && w.content != it->second.content) {
        const std::string& a = w.content;
        const std::string& b = it->second.content;
        size_t i = 0;
        while (i < a.size() && i < b.size() && a[i] == b[i]) i++;
        os << ", contents differ from byte " << i;
      }
      os << "\n";
    }
  }
  for (const auto& [path, g] : got) {
    if (want.count(path) == 0) os << "  unexpected " << path << " (" << DescribeNode(g) << ")\n";
  }
  return os.str();
}

}  // namespace test
}  // namespace bitgask

#endif  // BITGASK_TESTS_FS_TREE_H_
