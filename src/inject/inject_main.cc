#include "inject/inject_main.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "inject/inject.h"
#include "inject/webhook_server.h"
#include "util/log.h"

namespace nearcache::inject {
namespace {

constexpr char kInjectUsage[] =
    "usage: nearcache inject [-f FILE|-] [--image IMAGE] [--config-map NAME]\n"
    "\n"
    "Reads Kubernetes manifests (multi-document YAML) from FILE or stdin and\n"
    "writes them to stdout with the nearcache sidecar added to every pod\n"
    "template annotated nearcache.io/inject: \"true\". Other documents are\n"
    "copied unchanged; injecting twice is injecting once.\n"
    "\n"
    "  -f, --filename FILE  read FILE (\"-\": stdin; the default)\n"
    "  --image IMAGE        sidecar image (default %s);\n"
    "                       the nearcache.io/image annotation wins\n"
    "  --config-map NAME    ConfigMap with nearcache.yaml (default\n"
    "                       nearcache-config); nearcache.io/config-map wins\n"
    "\n"
    "Per-pod annotations: nearcache.io/image, nearcache.io/config-map,\n"
    "nearcache.io/max-bytes (sets the memory limit: 1.15 x max-bytes + 64Mi),\n"
    "nearcache.io/redis-password-secret (a Secret with key \"password\").\n"
    "Exit codes: 0 ok, 1 invalid input, 2 usage.\n";

constexpr char kWebhookUsage[] =
    "usage: nearcache webhook --tls-cert FILE --tls-key FILE [--listen ADDR]\n"
    "                         [--image IMAGE] [--config-map NAME]\n"
    "\n"
    "Serves the mutating admission webhook (AdmissionReview v1) over HTTPS:\n"
    "POST /mutate answers a Pod's creation with the JSONPatch that adds the\n"
    "nearcache sidecar when the pod is annotated nearcache.io/inject: "
    "\"true\";\n"
    "GET /healthz answers ok. SIGTERM stops it.\n"
    "\n"
    "  --listen ADDR        host:port (default 0.0.0.0:8443)\n"
    "  --tls-cert FILE      PEM certificate chain for the webhook Service\n"
    "  --tls-key FILE       its PEM private key\n"
    "  --image IMAGE        sidecar image (default %s)\n"
    "  --config-map NAME    ConfigMap with nearcache.yaml (default\n"
    "                       nearcache-config)\n"
    "Exit codes: 0 stopped by a signal, 1 failed to start, 2 usage.\n";

void PrintUsage(FILE* to, const char* format) {
  std::fprintf(to, format, DefaultSidecarImage().c_str());
}

// Parses "--name VALUE" / "--name=VALUE" (and the short names given) into
// `values`, keyed by the long name. False, with a message on stderr, for an
// unknown flag, a missing value or a repeated flag.
bool ParseFlags(int argc, char** argv,
                const std::map<std::string, std::string>& names,
                std::map<std::string, std::string>* values, bool* help) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return true;
    }
    std::optional<std::string> inline_value;
    if (const size_t eq = arg.find('=');
        absl::StartsWith(arg, "--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto it = names.find(arg);
    if (it == names.end()) {
      std::fprintf(stderr, "nearcache %s: unknown argument \"%s\"\n", argv[0],
                   arg.c_str());
      return false;
    }
    if (!inline_value.has_value()) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "nearcache %s: %s needs a value\n", argv[0],
                     arg.c_str());
        return false;
      }
      inline_value = argv[++i];
    }
    if (!values->emplace(it->second, *inline_value).second) {
      std::fprintf(stderr, "nearcache %s: %s given twice\n", argv[0],
                   arg.c_str());
      return false;
    }
  }
  return true;
}

void ApplyCommonFlags(const std::map<std::string, std::string>& values,
                      InjectOptions* options) {
  if (auto it = values.find("--image"); it != values.end()) {
    options->image = it->second;
  }
  if (auto it = values.find("--config-map"); it != values.end()) {
    options->config_map = it->second;
  }
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    if (std::cin.bad()) return absl::UnavailableError("cannot read stdin");
    return text.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  text << file.rdbuf();
  return text.str();
}

}  // namespace

int InjectMain(int argc, char** argv) {
  std::map<std::string, std::string> values;
  bool help = false;
  if (!ParseFlags(argc, argv,
                  {{"-f", "--filename"},
                   {"--filename", "--filename"},
                   {"--image", "--image"},
                   {"--config-map", "--config-map"}},
                  &values, &help)) {
    PrintUsage(stderr, kInjectUsage);
    return 2;
  }
  if (help) {
    PrintUsage(stdout, kInjectUsage);
    return 0;
  }
  InjectOptions options;
  ApplyCommonFlags(values, &options);
  const std::string path =
      values.count("--filename") ? values["--filename"] : "-";
  absl::StatusOr<std::string> input = ReadInput(path);
  if (!input.ok()) {
    std::fprintf(stderr, "nearcache inject: %s\n",
                 std::string(input.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::string> output = InjectManifests(*input, options);
  if (!output.ok()) {
    std::fprintf(stderr, "nearcache inject: %s: %s\n",
                 path == "-" ? "stdin" : path.c_str(),
                 std::string(output.status().message()).c_str());
    return 1;
  }
  std::fwrite(output->data(), 1, output->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int WebhookMain(int argc, char** argv) {
  std::map<std::string, std::string> values;
  bool help = false;
  if (!ParseFlags(argc, argv,
                  {{"--listen", "--listen"},
                   {"--tls-cert", "--tls-cert"},
                   {"--tls-key", "--tls-key"},
                   {"--image", "--image"},
                   {"--config-map", "--config-map"}},
                  &values, &help)) {
    PrintUsage(stderr, kWebhookUsage);
    return 2;
  }
  if (help) {
    PrintUsage(stdout, kWebhookUsage);
    return 0;
  }
  if (!values.count("--tls-cert") || !values.count("--tls-key")) {
    std::fputs("nearcache webhook: --tls-cert and --tls-key are required\n",
               stderr);
    PrintUsage(stderr, kWebhookUsage);
    return 2;
  }
  WebhookServerOptions options;
  if (values.count("--listen")) options.listen = values["--listen"];
  options.tls_cert_file = values["--tls-cert"];
  options.tls_key_file = values["--tls-key"];
  ApplyCommonFlags(values, &options.inject);

  SetLogOptions(LogLevel::kInfo, /*json=*/true);
  WebhookServer server(options);
  if (absl::Status s = server.Start(); !s.ok()) {
    LOG_ERROR("webhook cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  return server.Run();
}

}  // namespace nearcache::inject
