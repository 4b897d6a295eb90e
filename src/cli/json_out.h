// json_out: the JSON documents of `bitgask stats` and `bitgask reclaimable`.
//
// Contract: one JSON object per call, on one line, keys in a fixed order;
// StatsJson's fields come from fs/stats_json.h, which the mount's
// .bitgask/stats file uses too (last_merge in Unix seconds, null when never).
// Strings from the store (directory names, merge status) may hold any bytes:
// bytes that are not valid UTF-8 become U+FFFD, so the output is always valid
// JSON. Built with nlohmann::json. Pure: no I/O.
#ifndef BITGASK_SRC_CLI_JSON_OUT_H_
#define BITGASK_SRC_CLI_JSON_OUT_H_

#include <cstdint>
#include <string>

#include "bitgask/db.h"

namespace bitgask {
namespace cli {

std::string StatsJson(const std::string& dir, const DBStats& stats);
std::string ReclaimableJson(uint64_t dead_bytes, uint64_t total_bytes, double ratio);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_JSON_OUT_H_
