#include "log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace bitgask {
namespace internal {

// The logger is never destroyed (a pointer to a shared_ptr that is never
// freed): a DB closed by a static destructor at exit may still log, after
// spdlog's registry and this file's statics are gone.
spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger>* const logger = new std::shared_ptr<spdlog::logger>([] {
    auto l = spdlog::get("bitgask");
    if (!l) l = spdlog::stderr_logger_mt("bitgask");
    const char* level = std::getenv("BITGASK_LOG_LEVEL");
    l->set_level(level ? spdlog::level::from_str(level) : spdlog::level::warn);
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
    return l;
  }());
  return **logger;
}

}  // namespace internal
}  // namespace bitgask
