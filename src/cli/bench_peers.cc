#include "bench_peers.h"

namespace bitgask {
namespace cli {
namespace {

using OpenFn = Status (*)(const std::string&, const BenchConfig&, std::unique_ptr<BenchTarget>*);

struct Peer {
  const char* name;
  OpenFn open;
};

// src/Makefile.am defines BITGASK_BENCH_<NAME> for each peer configure found.
const std::vector<Peer>& Peers() {
  static const std::vector<Peer> kPeers = {
#ifdef BITGASK_BENCH_LEVELDB
      {"leveldb", OpenLevelDBPeer},
#endif
#ifdef BITGASK_BENCH_ROCKSDB
      {"rocksdb", OpenRocksDBPeer},
#endif
#ifdef BITGASK_BENCH_LMDB
      {"lmdb", OpenLMDBPeer},
#endif
#ifdef BITGASK_BENCH_TKRZW
      {"tkrzw", OpenTkrzwPeer},
#endif
  };
  return kPeers;
}

}  // namespace

const std::vector<std::string>& PeerNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const Peer& p : Peers()) names.push_back(p.name);
    return names;
  }();
  return kNames;
}

Status OpenPeer(const std::string& name, const std::string& dir, const BenchConfig& config,
                std::unique_ptr<BenchTarget>* out) {
  for (const Peer& p : Peers()) {
    if (name == p.name) return p.open(dir, config, out);
  }
  return Status::InvalidArgument("no bench peer " + name + " in this build");
}

}  // namespace cli
}  // namespace bitgask
