// bench_peers: the other stores `bitgask bench --peers` measures beside
// bitgask, each behind BenchTarget in a file of its own
// (bench_peer_<name>.cc), compiled in only when configure found its library
// and was given --with-bench-peers (docs/Benchmarks.md#peers).
//
// Contract: PeerNames() lists the peers compiled into this binary, in a fixed
// order (empty without --with-bench-peers). OpenPeer creates peer `name` in
// dir (absent or empty), tuned only where the peer's own benchmarks tune it
// for config.num keys (each peer file says what it sets). Each peer's
// Settings() states its durable and non-durable write settings.
#ifndef BITGASK_SRC_CLI_BENCH_PEERS_H_
#define BITGASK_SRC_CLI_BENCH_PEERS_H_

#include <memory>
#include <string>
#include <vector>

#include "bench_target.h"
#include "bench_workloads.h"

namespace bitgask {
namespace cli {

const std::vector<std::string>& PeerNames();

Status OpenPeer(const std::string& name, const std::string& dir, const BenchConfig& config,
                std::unique_ptr<BenchTarget>* out);

// One per peer file; OpenPeer calls those compiled in.
Status OpenLevelDBPeer(const std::string& dir, const BenchConfig& config,
                       std::unique_ptr<BenchTarget>* out);
Status OpenRocksDBPeer(const std::string& dir, const BenchConfig& config,
                       std::unique_ptr<BenchTarget>* out);
Status OpenLMDBPeer(const std::string& dir, const BenchConfig& config,
                    std::unique_ptr<BenchTarget>* out);
Status OpenTkrzwPeer(const std::string& dir, const BenchConfig& config,
                     std::unique_ptr<BenchTarget>* out);

}  // namespace cli
}  // namespace bitgask

#endif  // BITGASK_SRC_CLI_BENCH_PEERS_H_
