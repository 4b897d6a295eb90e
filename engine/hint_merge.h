// The k-way merge that open uses to apply the hints of several data files in
// key order (docs/Architecture.md, "Open").
#ifndef BITGASK_ENGINE_HINT_MERGE_H_
#define BITGASK_ENGINE_HINT_MERGE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "hint_file.h"

namespace bitgask {
namespace internal {

// Calls apply with every entry of hints, each a data file's id and its
// hint (already checked by HintFileReader::Check and found in key order),
// oldest file first, in key order; entries of equal keys come in file order
// and, within a file, in the hint's order (which is the log order). Applying
// them so gives the keydir that applying file by file gives: a key's entries
// keep their order, and entries of different keys commute (a hint with a
// DeleteAll is never in key order, so never here).
//
// The merge runs on a thread of its own and hands the entries over in
// batches; apply runs on the caller's thread, one batch at a time, and its
// key views point into the hints, which must outlive the call. Returns when
// every entry has been applied.
void MergeOrderedHints(const std::vector<std::pair<uint32_t, const HintFileReader*>>& hints,
                       const std::function<void(const HintEntry* entries, size_t n)>& apply);

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_HINT_MERGE_H_
