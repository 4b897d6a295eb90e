#include "command_registry.h"

#include "engine_flags.h"

namespace bitgask {
namespace cli {

void AddStoreFlags(CLI::App* sub, CliContext* ctx) {
  sub->add_option("--dir", ctx->dir, "the store's directory")
      ->type_name("STORE")
      ->default_str(kDefaultStoreDir);
  for (const std::string& option : OptionNames()) {
    const std::string flag = FlagNameForOption(option);
    sub->add_option_function<std::string>(
           "--" + flag,
           [ctx, flag](const std::string& value) {
             std::string error;
             if (!ApplyEngineFlag(&ctx->options, flag, value, &error)) {
               throw CLI::ValidationError(error);
             }
           },
           "engine option " + option + " (docs/Options.md)")
        ->type_name("VALUE")
        ->group("Engine options");
  }
}

CLI::App* AddCommand(CLI::App* app, CliContext* ctx, const std::string& name,
                     const std::string& description, std::function<int()> run) {
  CLI::App* sub = app->add_subcommand(name, description);
  AddStoreFlags(sub, ctx);
  ctx->commands.emplace_back(sub, std::move(run));
  return sub;
}

}  // namespace cli
}  // namespace bitgask
