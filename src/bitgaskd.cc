// bitgaskd --dir STORE [--addr HOST:PORT] [options]: serves a bitgask store
// over the Redis protocol (docs/Server.md).
//
// Engine options are flags with dashes (--sync-on-put=false), one per name of
// OptionNames(), applied with SetOptionFromString. SIGTERM and SIGINT stop
// accepting, send the replies already made, sync and close the store, exit 0.
// Exit 1 on bad flags, a refused address (protected mode) or a store that
// will not open.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "../server/password_file.h"
#include "../server/server.h"
#include "bitgask/db.h"
#include "bitgask/options.h"

namespace {

const char* kProg = "bitgaskd";

std::string Dashed(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

// A byte count with an optional K, M or G (powers of 1024).
bool ParseSize(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  size_t i = 0;
  uint64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (i == 0) return false;
  int shift = 0;
  if (i + 1 == text.size()) {
    switch (text[i]) {
      case 'K': case 'k': shift = 10; break;
      case 'M': case 'm': shift = 20; break;
      case 'G': case 'g': shift = 30; break;
      default: return false;
    }
  } else if (i != text.size()) {
    return false;
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

// Writes the bound port to path (through a temporary file and a rename, so a
// reader never sees a partial number).
bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "%d\n", port);
  if (std::fclose(f) != 0) return false;
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by a thread of ours with sigwait; block them before any
  // thread (the engine's included) starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"bitgaskd: a Redis-protocol (RESP2) server over a bitgask store", kProg};
  std::string dir, port_file, bulk_len = "512M", query_limit = "1G";
  bitgask::server::ServerOptions so;
  app.add_option("--dir", dir, "the store's directory (created if missing)")->required();
  app.add_option("--addr", so.addr, "HOST:PORT or [IPV6]:PORT to listen on; port 0 picks one")
      ->capture_default_str();
  std::string pass_file;
  auto* pass_opt = app.add_option("--requirepass", so.requirepass,
                                  "password clients must give with AUTH; required off loopback");
  app.add_option("--requirepass-file", pass_file,
                 "read that password from this file (not world-readable) instead, so that "
                 "ps does not show it")
      ->excludes(pass_opt);
  app.add_option("--maxclients", so.maxclients, "most connections at once")
      ->capture_default_str();
  app.add_option("--timeout", so.timeout_seconds, "close clients idle this many seconds; 0 never")
      ->capture_default_str();
  app.add_option("--proto-max-bulk-len", bulk_len, "largest argument, bytes (K, M, G)")
      ->capture_default_str();
  app.add_option("--max-args", so.limits.max_args, "most arguments in one request")
      ->capture_default_str();
  app.add_option("--client-query-buffer-limit", query_limit,
                 "most unparsed input of one client, bytes (K, M, G)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  // Engine options by name, with dashes; applied below in the order given.
  std::map<std::string, std::string> engine_values;
  for (const std::string& name : bitgask::OptionNames()) {
    app.add_option("--" + Dashed(name), engine_values[name],
                   "engine option " + name + " (docs/Options.md)");
  }
  CLI11_PARSE(app, argc, argv);

  bitgask::Options opts;
  for (const std::string& name : bitgask::OptionNames()) {
    if (app.count("--" + Dashed(name)) == 0) continue;
    bitgask::Status s = bitgask::SetOptionFromString(&opts, name, engine_values[name]);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: --%s: %s\n", kProg, Dashed(name).c_str(), s.message().c_str());
      return 1;
    }
  }
  if (!ParseSize(bulk_len, &so.limits.max_bulk_len) || so.limits.max_bulk_len == 0) {
    std::fprintf(stderr, "%s: --proto-max-bulk-len: bad size '%s'\n", kProg, bulk_len.c_str());
    return 1;
  }
  if (!ParseSize(query_limit, &so.max_query_buffer) || so.max_query_buffer == 0) {
    std::fprintf(stderr, "%s: --client-query-buffer-limit: bad size '%s'\n", kProg,
                 query_limit.c_str());
    return 1;
  }
  if (so.maxclients == 0 || so.limits.max_args == 0) {
    std::fprintf(stderr, "%s: --maxclients and --max-args must be positive\n", kProg);
    return 1;
  }
  if (!pass_file.empty()) {
    bitgask::Status s = bitgask::server::ReadPasswordFile(pass_file, &so.requirepass);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: --requirepass-file: %s\n", kProg, s.message().c_str());
      return 1;
    }
  }
  // Refuse a bad or unprotected address before touching the store.
  bitgask::Status s = bitgask::server::CheckListenAddress(so.addr, so.requirepass);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", kProg, s.message().c_str());
    return 1;
  }

  // Durability: instead of one fdatasync per write, the server syncs once per
  // event-loop turn before replying (docs/Server.md), which keeps the promise
  // of sync_on_put / sync_on_delete for every acknowledged write.
  // With only one of the two on, the engine keeps syncing that kind of write
  // itself, one fdatasync per write.
  if (opts.sync_on_put && opts.sync_on_delete) {
    so.sync_before_reply = true;
    opts.sync_on_put = false;
    opts.sync_on_delete = false;
  }
  so.store_path = dir;

  std::unique_ptr<bitgask::DB> db;
  s = bitgask::DB::Open(dir, opts, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: cannot open %s: %s\n", kProg, dir.c_str(), s.ToString().c_str());
    return 1;
  }
  bitgask::server::Server server(db.get(), so);
  s = server.Start();
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", kProg, s.message().c_str());
    db->Close();
    return 1;
  }
  std::fprintf(stderr, "%s: serving %s on port %d (pid %d)\n", kProg, dir.c_str(), server.port(),
               static_cast<int>(getpid()));
  if (!port_file.empty() && !WritePortFile(port_file, server.port())) {
    std::fprintf(stderr, "%s: cannot write %s\n", kProg, port_file.c_str());
    server.Stop();
    server.Wait();
    db->Close();
    return 1;
  }

  std::thread signal_thread([&server, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.Stop();
  });
  server.Wait();
  // The loop may end before the signal thread is out of Stop() (which writes
  // the server's eventfd), or for another reason while that thread still
  // waits: wake it and join it before the server (and its eventfd) goes away.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();

  int rc = 0;
  if (!server.loop_status().ok()) {
    std::fprintf(stderr, "%s: %s\n", kProg, server.loop_status().ToString().c_str());
    rc = 1;
  }
  s = db->Sync();
  if (s.ok()) s = db->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "%s: closing the store: %s\n", kProg, s.ToString().c_str());
    rc = 1;
  }
  if (rc == 0) std::fprintf(stderr, "%s: stopped; store synced and closed\n", kProg);
  return rc;
}
