// Server commands: FLUSHDB FLUSHALL INFO CONFIG SAVE BGSAVE BGREWRITEAOF DEBUG.
#include <unistd.h>

#include <chrono>
#include <utility>

#include "commands_internal.h"
#include "glob.h"

namespace bitgask {
namespace server {

namespace {

// One "name:value\r\n" line of INFO.
void Field(std::string* out, const char* name, const std::string& value) {
  out->append(name).append(":").append(value).append("\r\n");
}
void Field(std::string* out, const char* name, uint64_t value) {
  Field(out, name, std::to_string(value));
}

bool WantSection(const std::vector<std::string>& argv, const char* section) {
  if (argv.size() == 1) return true;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (EqualsIgnoreCase(argv[i], section) || EqualsIgnoreCase(argv[i], "all") ||
        EqualsIgnoreCase(argv[i], "default") || EqualsIgnoreCase(argv[i], "everything")) {
      return true;
    }
  }
  return false;
}

}  // namespace

void CmdFlush(Call& c) {
  if (c.argv.size() > 2 ||
      (c.argv.size() == 2 && !EqualsIgnoreCase(c.argv[1], "sync") &&
       !EqualsIgnoreCase(c.argv[1], "async"))) {
    c.out.Error("syntax error");
    return;
  }
  Status s = c.db()->DeleteAll();
  if (!s.ok()) return c.EngineError(s);
  c.Changed("");
  c.out.Ok();
}

void CmdInfo(Call& c) {
  const CommandConfig& cfg = *c.st.config;
  const ServerStats& st = *c.st.stats;
  DBStats db;
  Status s = c.db()->Stats(&db);
  if (!s.ok()) return c.EngineError(s);
  const int64_t uptime_s = (NowUnixNs() - st.start_unix_ns) / 1000000000;
  std::string out;
  if (WantSection(c.argv, "server")) {
    out.append("# Server\r\n");
    Field(&out, "redis_version", "7.0.0");
    Field(&out, "bitgask_version", PACKAGE_VERSION);
    Field(&out, "redis_mode", "standalone");
    Field(&out, "process_id", static_cast<uint64_t>(getpid()));
    Field(&out, "tcp_port", static_cast<uint64_t>(cfg.port));
    Field(&out, "uptime_in_seconds", static_cast<uint64_t>(uptime_s));
    Field(&out, "uptime_in_days", static_cast<uint64_t>(uptime_s / 86400));
    Field(&out, "executable", "bitgaskd");
    out.append("\r\n");
  }
  if (WantSection(c.argv, "clients")) {
    out.append("# Clients\r\n");
    Field(&out, "connected_clients", st.connected_clients);
    Field(&out, "maxclients", cfg.maxclients);
    Field(&out, "blocked_clients", uint64_t{0});
    out.append("\r\n");
  }
  if (WantSection(c.argv, "memory")) {
    out.append("# Memory\r\n");
    // The keydir is what the store keeps in memory per key.
    Field(&out, "used_memory", db.keydir_bytes);
    Field(&out, "keydir_bytes", db.keydir_bytes);
    out.append("\r\n");
  }
  if (WantSection(c.argv, "persistence")) {
    out.append("# Persistence\r\n");
    Field(&out, "loading", uint64_t{0});
    Field(&out, "aof_enabled", uint64_t{1});  // every write is an append to the log
    Field(&out, "aof_rewrite_in_progress", uint64_t{c.st.merge_running ? 1u : 0u});
    Field(&out, "data_files", uint64_t{db.data_files});
    Field(&out, "total_bytes", db.total_bytes);
    Field(&out, "dead_bytes", db.dead_bytes);
    Field(&out, "syncs", db.syncs);
    Field(&out, "write_groups", db.write_groups);
    Field(&out, "rotation_waits", db.rotation_waits);
    Field(&out, "last_merge_unix", static_cast<uint64_t>(db.last_merge_unix_ns / 1000000000));
    Field(&out, "last_merge_status", db.last_merge_status.empty() ? "none" : db.last_merge_status);
    out.append("\r\n");
  }
  if (WantSection(c.argv, "stats")) {
    out.append("# Stats\r\n");
    Field(&out, "total_connections_received", st.total_connections_received);
    Field(&out, "total_commands_processed", st.total_commands_processed);
    Field(&out, "rejected_connections", st.rejected_connections);
    Field(&out, "total_net_input_bytes", st.net_input_bytes);
    Field(&out, "total_net_output_bytes", st.net_output_bytes);
    Field(&out, "keyspace_hits", st.keyspace_hits);
    Field(&out, "keyspace_misses", st.keyspace_misses);
    Field(&out, "engine_puts", db.puts);
    Field(&out, "engine_gets", db.gets);
    Field(&out, "engine_deletes", db.deletes);
    out.append("\r\n");
  }
  if (WantSection(c.argv, "keyspace")) {
    out.append("# Keyspace\r\n");
    // Only keys: the number of keys with an expiry is not tracked.
    if (db.keys > 0) Field(&out, "db0", "keys=" + std::to_string(db.keys));
    out.append("\r\n");
  }
  c.out.Bulk(out);
}

void CmdConfig(Call& c) {
  const std::string& sub = c.argv[1];
  if (EqualsIgnoreCase(sub, "resetstat") && c.argv.size() == 2) {
    ServerStats* st = c.st.stats;
    st->total_connections_received = st->rejected_connections = 0;
    st->total_commands_processed = st->keyspace_hits = st->keyspace_misses = 0;
    st->net_input_bytes = st->net_output_bytes = 0;
    c.out.Ok();
    return;
  }
  if (!EqualsIgnoreCase(sub, "get")) {
    c.out.Error("unknown subcommand '" + sub.substr(0, 128) + "'. Try CONFIG HELP.");
    return;
  }
  if (c.argv.size() < 3) {
    c.out.Error("wrong number of arguments for 'config|get' command");
    return;
  }
  const CommandConfig& cfg = *c.st.config;
  const std::pair<const char*, std::string> params[] = {
      {"appendonly", "yes"},
      {"bind", cfg.bind_host},
      {"client-query-buffer-limit", std::to_string(cfg.max_query_buffer)},
      {"databases", "1"},
      {"dir", cfg.store_path},
      {"maxclients", std::to_string(cfg.maxclients)},
      {"port", std::to_string(cfg.port)},
      {"proto-max-bulk-len", std::to_string(cfg.max_bulk_len)},
      {"protected-mode", cfg.requirepass.empty() ? "yes" : "no"},
      {"requirepass", cfg.requirepass},
      {"save", ""},
      {"timeout", std::to_string(cfg.timeout_seconds)},
  };
  std::vector<const std::pair<const char*, std::string>*> hits;
  for (const auto& p : params) {
    for (size_t i = 2; i < c.argv.size(); ++i) {
      if (GlobMatch(c.argv[i], p.first, /*nocase=*/true)) {
        hits.push_back(&p);
        break;
      }
    }
  }
  c.out.ArrayHeader(hits.size() * 2);
  for (const auto* p : hits) {
    c.out.Bulk(p->first);
    c.out.Bulk(p->second);
  }
}

void CmdSave(Call& c) {
  Status s = c.db()->Sync();
  if (!s.ok()) return c.EngineError(s);
  c.out.Ok();
}

void CmdBgSave(Call& c) {
  // A sync is quick (one fdatasync of the active file): done before replying.
  Status s = c.db()->Sync();
  if (!s.ok()) return c.EngineError(s);
  c.out.Simple("Background saving started");
}

void CmdBgRewriteAof(Call& c) {
  Commands::State& st = c.st;
  if (st.merge_running.exchange(true)) {
    c.out.Error("Background append only file rewriting already in progress");
    return;
  }
  if (st.merge_thread.joinable()) st.merge_thread.join();  // the previous, finished one
  DB* db = st.db;
  st.merge_thread = std::thread([&st, db] {
    MergeOptions mo;
    mo.force = true;
    MergeResult result;
    db->Merge(mo, &result);  // its outcome shows in INFO persistence (last_merge_status)
    st.merge_running = false;
  });
  c.out.Simple("Background append only file rewriting started");
}

void CmdDebug(Call& c) {
  if (EqualsIgnoreCase(c.argv[1], "digest") && c.argv.size() == 2) {
    std::string hex;
    Status s = c.db()->Digest(&hex);
    if (!s.ok()) return c.EngineError(s);
    c.out.Simple(hex);
    return;
  }
  c.out.Error("unknown subcommand '" + c.argv[1].substr(0, 128) +
              "'. Try DEBUG HELP (bitgaskd has DEBUG DIGEST only).");
}

}  // namespace server
}  // namespace bitgask
