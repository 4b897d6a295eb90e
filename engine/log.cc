#include "log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace bitgask {
namespace internal {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::get("bitgask");
    if (!l) l = spdlog::stderr_logger_mt("bitgask");
    const char* level = std::getenv("BITGASK_LOG_LEVEL");
    l->set_level(level ? spdlog::level::from_str(level) : spdlog::level::warn);
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
    return l;
  }();
  return *logger;
}

}  // namespace internal
}  // namespace bitgask
