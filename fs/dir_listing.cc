#include "dir_listing.h"

#include <sys/stat.h>

#include <cstring>

namespace bitgask {
namespace fs {

void ReplyDirListing(fuse_req_t req, const DirListing& listing, size_t size, off_t off) {
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = off < 0 ? 0 : static_cast<size_t>(off); i < listing.entries.size(); i++) {
    const auto& e = listing.entries[i];
    struct stat st;
    std::memset(&st, 0, sizeof(st));
    st.st_ino = e.ino;
    st.st_mode = e.type;
    size_t need = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                                    static_cast<off_t>(i + 1));
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
}

}  // namespace fs
}  // namespace bitgask
