#include "fs_log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>

#include <cstdlib>
#include <memory>
#include <mutex>

namespace bitgask {
namespace fs {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_logger;

spdlog::level::level_enum LevelFromEnv() {
  const char* v = std::getenv("BITGASK_LOG_LEVEL");
  if (v == nullptr) return spdlog::level::info;
  return spdlog::level::from_str(v);
}

void Install(std::shared_ptr<spdlog::logger> logger) {
  logger->set_level(LevelFromEnv());
  logger->flush_on(spdlog::level::warn);
  g_logger = std::move(logger);
}

}  // namespace

spdlog::logger& FsLog() {
  std::lock_guard<std::mutex> l(g_mu);
  if (!g_logger) {
    Install(std::make_shared<spdlog::logger>(
        "mount.bitgask", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
  }
  return *g_logger;
}

void UseSyslog() {
  std::lock_guard<std::mutex> l(g_mu);
  Install(std::make_shared<spdlog::logger>(
      "mount.bitgask", std::make_shared<spdlog::sinks::syslog_sink_mt>(
                           "mount.bitgask", LOG_PID, LOG_DAEMON, false)));
}

}  // namespace fs
}  // namespace bitgask
