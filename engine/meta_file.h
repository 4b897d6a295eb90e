// data/bitgask.meta: the store's format version, checked at every open.
//
// A small JSON object written once when the store is created:
//   {"format": "bitgask", "format_version": 1, "created_unix_ns": 1700000000000000000}
#ifndef BITGASK_ENGINE_META_FILE_H_
#define BITGASK_ENGINE_META_FILE_H_

#include <string>

#include "bitgask/env.h"

namespace bitgask {
namespace internal {

std::string MetaFileName(const std::string& data_dir);

// Writes the meta file atomically (temporary file, sync, rename, sync dir).
Status WriteMetaFile(Env* env, const std::string& data_dir, int format_version);

// Reads the format version. Corruption when the file is not a bitgask meta file.
Status ReadMetaFile(Env* env, const std::string& data_dir, int* format_version);

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_META_FILE_H_
