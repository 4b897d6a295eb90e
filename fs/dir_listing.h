// dir_listing: a directory listing taken at opendir and served to readdir.
//
// Contract: entries are fixed when the listing is made; readdir at offset
// `off` returns entries from index off on, and each entry's offset is the
// index of the entry after it, so a listing read in pieces is read whole and
// each entry once.  No locks: one handle is used by one opendir stream.
#ifndef BITGASK_FS_DIR_LISTING_H_
#define BITGASK_FS_DIR_LISTING_H_

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bitgask {
namespace fs {

struct DirListing {
  struct Entry {
    std::string name;
    mode_t type;  // S_IFREG, S_IFDIR or S_IFLNK
    uint64_t ino;
  };
  std::vector<Entry> entries;
};

// Replies to a readdir request with as many entries from off as fit in size.
void ReplyDirListing(fuse_req_t req, const DirListing& listing, size_t size, off_t off);

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_DIR_LISTING_H_
