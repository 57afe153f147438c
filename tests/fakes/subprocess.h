// SpawnChild: fork + exec for the test fakes and suites that run real
// processes (redis-server, nearcache, nc_loadgen, curl).
#ifndef NEARCACHE_TESTS_FAKES_SUBPROCESS_H_
#define NEARCACHE_TESTS_FAKES_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace nearcache {

// Forks and execs `args` (args[0] is a path, not looked up in PATH) with
// stdout to `out_fd` and stderr to `err_fd`, and `*env` as the environment
// (ours when null). The child dies with the calling thread and inherits no
// other descriptor (the test's client sockets must not live on in it).
// Returns the pid, or -1 when fork failed.
pid_t SpawnChild(std::vector<std::string> args, int out_fd, int err_fd,
                 const std::vector<std::string>* env = nullptr);

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_FAKES_SUBPROCESS_H_
