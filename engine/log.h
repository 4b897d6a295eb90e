// The engine's logger: spdlog, named "bitgask", writing to stderr. Quiet by
// default (warnings and errors only); BITGASK_LOG_LEVEL=debug|info|warn|error|off
// in the environment changes that.
#ifndef BITGASK_ENGINE_LOG_H_
#define BITGASK_ENGINE_LOG_H_

#include <spdlog/spdlog.h>

#include <memory>

namespace bitgask {
namespace internal {

spdlog::logger& Log();

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_LOG_H_
