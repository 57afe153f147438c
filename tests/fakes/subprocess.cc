#include "tests/fakes/subprocess.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

extern char** environ;

namespace nearcache {

pid_t SpawnChild(std::vector<std::string> args, int out_fd, int err_fd,
                 const std::vector<std::string>* env) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_copy;
  std::vector<char*> envp;
  if (env != nullptr) {
    env_copy = *env;
    for (std::string& e : env_copy) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  char** const child_env = env != nullptr ? envp.data() : environ;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls until exec.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died already
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  if (close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 4096; ++fd) close(fd);
  }
  execve(argv[0], argv.data(), child_env);
  _exit(127);
}

}  // namespace nearcache
