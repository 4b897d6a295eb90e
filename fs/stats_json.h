// stats_json: a store's statistics as JSON fields, shared by the mount's
// .bitgask/stats and `bitgask stats` so the two always agree (field names,
// order and units: last_merge in Unix seconds, null when never).
// Header-only and FUSE-free: nlohmann::ordered_json and DBStats alone, so
// the command line includes it without linking the filesystem.
#ifndef BITGASK_FS_STATS_JSON_H_
#define BITGASK_FS_STATS_JSON_H_

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "bitgask/db.h"

namespace bitgask {
namespace fs {

inline nlohmann::ordered_json StatsFields(const std::string& store, const DBStats& st) {
  nlohmann::ordered_json j;
  j["store"] = store;
  j["keys"] = st.keys;
  j["total_bytes"] = st.total_bytes;
  j["live_bytes"] = st.total_bytes - std::min(st.dead_bytes, st.total_bytes);
  j["dead_bytes"] = st.dead_bytes;
  j["reclaimable_ratio"] =
      st.total_bytes == 0 ? 0.0 : static_cast<double>(st.dead_bytes) / st.total_bytes;
  j["data_files"] = st.data_files;
  j["keydir_bytes"] = st.keydir_bytes;
  j["last_merge"] = st.last_merge_unix_ns == 0 ? nlohmann::ordered_json(nullptr)
                                               : nlohmann::ordered_json(st.last_merge_unix_ns /
                                                                        1000000000);
  j["last_merge_status"] = st.last_merge_status;
  return j;
}

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_STATS_JSON_H_
