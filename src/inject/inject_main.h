// The `nearcache inject` and `nearcache webhook` subcommands. main() hands
// them the command line from the subcommand on:
//
//   if (argc >= 2 && std::strcmp(argv[1], "inject") == 0)
//     return nearcache::inject::InjectMain(argc - 1, argv + 1);
//
// so argv[0] is "inject" or "webhook". Both return the process exit code:
// 0 ok, 1 failed (bad input, cannot start), 2 usage.
#ifndef NEARCACHE_INJECT_INJECT_MAIN_H_
#define NEARCACHE_INJECT_INJECT_MAIN_H_

namespace nearcache::inject {

// nearcache inject [-f FILE|-] [--image IMAGE] [--config-map NAME]
// Reads manifests from FILE (default and "-": stdin), writes them with the
// sidecar injected to stdout; errors go to stderr and nothing to stdout.
int InjectMain(int argc, char** argv);

// nearcache webhook --tls-cert FILE --tls-key FILE [--listen ADDR]
//                   [--image IMAGE] [--config-map NAME]
// Serves the mutating admission webhook until SIGTERM.
int WebhookMain(int argc, char** argv);

}  // namespace nearcache::inject

#endif  // NEARCACHE_INJECT_INJECT_MAIN_H_
