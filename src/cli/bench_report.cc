#include "bench_report.h"

#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

namespace bitgask {
namespace cli {
namespace {

double OpsPerSec(const BenchResult& r) { return r.seconds > 0 ? r.ops / r.seconds : 0; }
double MBPerSec(const BenchResult& r) { return r.seconds > 0 ? r.bytes / 1e6 / r.seconds : 0; }
double Micros(uint64_t nanos) { return static_cast<double>(nanos) / 1000; }
double PerKey(const KeydirPeak& p) {
  return p.keys == 0 ? 0 : static_cast<double>(p.bytes) / static_cast<double>(p.keys);
}

// ops/s of workload `name` in results, or -1 when it did not run there.
double OpsOf(const std::vector<BenchResult>& results, const std::string& name) {
  for (const BenchResult& r : results) {
    if (r.name == name) return OpsPerSec(r);
  }
  return -1;
}

// Every workload name of the runs, in the order first seen.
std::vector<std::string> AllNames(const std::vector<TargetRun>& runs) {
  std::vector<std::string> names;
  for (const TargetRun& run : runs) {
    for (const BenchResult& r : run.results) {
      bool seen = false;
      for (const std::string& n : names) seen = seen || n == r.name;
      if (!seen) names.push_back(r.name);
    }
  }
  return names;
}

nlohmann::ordered_json JsonOf(const BenchSetup& s, const std::vector<BenchResult>& results,
                              const KeydirPeak& peak) {
  nlohmann::ordered_json j;
  j["target"] = s.target;
  j["settings"] = s.settings;
  j["dir"] = s.dir;
  j["dir_note"] = s.dir_note;
  j["num"] = s.config.num;
  j["key_size"] = s.config.key_size;
  j["value_size"] = s.config.value_size;
  j["threads"] = s.config.threads;
  j["sync"] = s.config.sync;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const BenchResult& r : results) {
    nlohmann::ordered_json o;
    o["name"] = r.name;
    o["ops"] = r.ops;
    o["seconds"] = r.seconds;
    o["ops_per_sec"] = OpsPerSec(r);
    o["mb_per_sec"] = MBPerSec(r);
    o["p50_us"] = Micros(r.latency.Percentile(0.5));
    o["p99_us"] = Micros(r.latency.Percentile(0.99));
    o["p999_us"] = Micros(r.latency.Percentile(0.999));
    o["max_us"] = Micros(r.latency.max());
    o["note"] = r.note;
    list.push_back(std::move(o));
  }
  j["results"] = std::move(list);
  j["keydir"] = {{"peak_bytes", peak.bytes}, {"keys", peak.keys}, {"bytes_per_key", PerKey(peak)}};
  return j;
}

std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string BenchHeader(const BenchSetup& s) {
  const BenchConfig& c = s.config;
  char buf[1024];
  std::snprintf(buf, sizeof(buf),
                "%s bench: %llu keys of %zu bytes, %zu-byte values, %d thread(s), sync %s\n"
                "settings: %s\n"
                "store: %s%s%s\n",
                s.target.c_str(), static_cast<unsigned long long>(c.num), c.key_size,
                c.value_size, c.threads, c.sync ? "on" : "off (fillsync syncs every write)",
                s.settings.c_str(),
                s.dir.c_str(), s.dir_note.empty() ? "" : " -- ", s.dir_note.c_str());
  std::string out = buf;
  std::snprintf(buf, sizeof(buf), "%-13s %10s %12s %8s %10s %10s %10s %10s  %s\n", "workload",
                "ops", "ops/s", "MB/s", "p50 us", "p99 us", "p99.9 us", "max us", "note");
  return out + buf;
}

std::string BenchTableLine(const BenchResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%-13s %10llu %12.0f %8.2f %10.1f %10.1f %10.1f %10.1f%s%s\n",
                r.name.c_str(), static_cast<unsigned long long>(r.ops), OpsPerSec(r), MBPerSec(r),
                Micros(r.latency.Percentile(0.5)), Micros(r.latency.Percentile(0.99)),
                Micros(r.latency.Percentile(0.999)), Micros(r.latency.max()),
                r.note.empty() ? "" : "  ", r.note.c_str());
  return buf;
}

std::string BenchKeydirLine(const KeydirPeak& p) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "keydir peak: %llu bytes for %llu keys, %.1f bytes per key\n",
                static_cast<unsigned long long>(p.bytes), static_cast<unsigned long long>(p.keys),
                PerKey(p));
  return buf;
}

std::string BenchJson(const BenchSetup& s, const std::vector<BenchResult>& results,
                      const KeydirPeak& peak) {
  return Dump(JsonOf(s, results, peak));
}

std::string BenchComparison(const std::vector<TargetRun>& runs) {
  std::string out =
      "comparison: ops/s of each target; x = bitgask / peer (above 1: bitgask is faster)\n";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%-13s", "workload");
  out += buf;
  for (size_t i = 0; i < runs.size(); i++) {
    std::snprintf(buf, sizeof(buf), " %12s", runs[i].setup.target.c_str());
    out += buf;
    if (i > 0) out += "      x";
  }
  out += "\n";
  for (const std::string& name : AllNames(runs)) {
    std::snprintf(buf, sizeof(buf), "%-13s", name.c_str());
    out += buf;
    const double mine = OpsOf(runs[0].results, name);
    for (size_t i = 0; i < runs.size(); i++) {
      const double ops = i == 0 ? mine : OpsOf(runs[i].results, name);
      if (ops < 0) {
        std::snprintf(buf, sizeof(buf), " %12s", "-");
      } else {
        std::snprintf(buf, sizeof(buf), " %12.0f", ops);
      }
      out += buf;
      if (i == 0) continue;
      if (mine > 0 && ops > 0) {
        std::snprintf(buf, sizeof(buf), " %6.2f", mine / ops);
      } else {
        std::snprintf(buf, sizeof(buf), " %6s", "-");
      }
      out += buf;
    }
    out += "\n";
  }
  return out;
}

std::string BenchJsonWithPeers(const std::vector<TargetRun>& runs) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json targets = nlohmann::ordered_json::array();
  for (const TargetRun& run : runs) targets.push_back(JsonOf(run.setup, run.results, run.peak));
  j["targets"] = std::move(targets);
  nlohmann::ordered_json ratios = nlohmann::ordered_json::object();
  for (const std::string& name : AllNames(runs)) {
    const double mine = OpsOf(runs[0].results, name);
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (size_t i = 1; i < runs.size(); i++) {
      const double ops = OpsOf(runs[i].results, name);
      if (mine > 0 && ops > 0) row[runs[i].setup.target] = mine / ops;
    }
    ratios[name] = std::move(row);
  }
  j["ratios"] = std::move(ratios);
  return Dump(j);
}

}  // namespace cli
}  // namespace bitgask
