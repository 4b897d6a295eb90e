#include "json_out.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "../../fs/stats_json.h"

namespace bitgask {
namespace cli {
namespace {

// ordered_json keeps the keys in the order they are set.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string StatsJson(const std::string& dir, const DBStats& st) {
  return Dump(fs::StatsFields(dir, st));
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
