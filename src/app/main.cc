// nearcache: a local, coherent cache sidecar in front of Redis.
// main() only parses the command line and wires the layers (App).
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "app/app.h"
#include "inject/inject_main.h"
#include "nearcache/config.h"
#include "util/log.h"

namespace {

constexpr char kUsage[] =
    "usage: nearcache --config FILE       serve with the configuration in "
    "FILE\n"
    "       nearcache --check-config FILE print the effective configuration\n"
    "                                     (secrets redacted) or every error\n"
    "       nearcache inject [-f FILE|-]  add the sidecar to Kubernetes "
    "manifests\n"
    "       nearcache webhook --tls-cert FILE --tls-key FILE [--listen ADDR]\n"
    "                                     serve the injecting admission "
    "webhook\n"
    "       nearcache --version\n"
    "       nearcache --help\n"
    "\n"
    "Exit codes: 0 ok, 2 bad configuration or usage, 1 failed to start.\n";

int CheckConfig(const std::string& path) {
  absl::StatusOr<nearcache::Config> config = nearcache::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  std::fputs(nearcache::RenderConfig(*config).c_str(), stdout);
  return 0;
}

int Serve(const std::string& path) {
  absl::StatusOr<nearcache::Config> config = nearcache::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "nearcache: bad configuration:\n%s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  nearcache::SetLogOptions(static_cast<nearcache::LogLevel>(config->log.level),
                           config->log.format == nearcache::LogConfig::kJson);
  nearcache::App app(*config);
  if (absl::Status s = app.Start(); !s.ok()) {
    LOG_ERROR("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  return app.Run();
}

}  // namespace

int main(int argc, char** argv) {
  std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "inject") return nearcache::inject::InjectMain(argc - 1, argv + 1);
  if (arg == "webhook") {
    return nearcache::inject::WebhookMain(argc - 1, argv + 1);
  }
  if (argc == 2 && (arg == "--help" || arg == "-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc == 2 && arg == "--version") {
    std::printf("nearcache %s\n", NEARCACHE_VERSION);
    return 0;
  }
  if (argc == 3 && arg == "--check-config") return CheckConfig(argv[2]);
  if (argc == 3 && arg == "--config") return Serve(argv[2]);
  std::fputs(kUsage, stderr);
  return 2;
}
