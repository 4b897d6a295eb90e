#include "json_out.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace bitgask {
namespace cli {
namespace {

// ordered_json keeps the keys in the order they are set.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string StatsJson(const std::string& dir, const DBStats& st) {
  nlohmann::ordered_json j;
  j["store"] = dir;
  j["keys"] = st.keys;
  j["total_bytes"] = st.total_bytes;
  j["live_bytes"] = st.total_bytes - std::min(st.dead_bytes, st.total_bytes);
  j["dead_bytes"] = st.dead_bytes;
  j["reclaimable_ratio"] =
      st.total_bytes == 0 ? 0.0 : static_cast<double>(st.dead_bytes) / st.total_bytes;
  j["data_files"] = st.data_files;
  j["keydir_bytes"] = st.keydir_bytes;
  if (st.last_merge_unix_ns != 0) {
    j["last_merge"] = st.last_merge_unix_ns / 1000000000;
  } else {
    j["last_merge"] = nullptr;
  }
  j["last_merge_status"] = st.last_merge_status;
  return Dump(j);
}

std::string ReclaimableJson(uint64_t dead_bytes, uint64_t total_bytes, double ratio) {
  nlohmann::ordered_json j;
  j["dead_bytes"] = dead_bytes;
  j["total_bytes"] = total_bytes;
  j["reclaimable_ratio"] = ratio;
  return Dump(j);
}

}  // namespace cli
}  // namespace bitgask
