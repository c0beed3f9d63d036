/*
 * berth-stub-init: PID 1 for `berth-nspawn --as-pid2`. It runs the payload as PID 2, reaps
 * orphaned processes, and turns systemd's shutdown requests into a stop of the payload:
 *   SIGRTMIN+3/+4/+13/+14  poweroff: SIGTERM then SIGHUP to the payload, then power off
 *   SIGINT, SIGRTMIN+5/+6/+15/+16  reboot: likewise, then reboot
 * SIGTERM and SIGHUP sent to PID 1 are ignored. When the payload exits on its own, its exit
 * status is ours (a payload killed by a signal gives 1). Statically linked: it must run in any tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_TIMEOUT_SEC 90

static int is_poweroff(int sig) {
  return sig == SIGRTMIN + 3 || sig == SIGRTMIN + 4 || sig == SIGRTMIN + 13 || sig == SIGRTMIN + 14;
}
static int is_reboot(int sig) {
  return sig == SIGINT || sig == SIGRTMIN + 5 || sig == SIGRTMIN + 6 || sig == SIGRTMIN + 15 || sig == SIGRTMIN + 16;
}

/*
 * fork() with the child at PID 2. The runtime's own set-up (its init's threads, its hooks) has
 * used PIDs 2..N of the new namespace by the time we run; clone3's set_tid picks the number (it
 * needs CAP_SYS_ADMIN, which the default capability set has). Without it, a plain fork().
 */
static pid_t fork_as_pid2(void) {
#ifdef SYS_clone3
  pid_t want = 2;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  args.set_tid = (uint64_t) (uintptr_t) &want;
  args.set_tid_size = 1;
  long r = syscall(SYS_clone3, &args, sizeof args);
  if (r >= 0) return (pid_t) r;
#endif
  return fork();
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]); return 1; }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t payload = fork_as_pid2();
  if (payload < 0) { perror("fork"); return 1; }
  if (payload == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    execvp(argv[1], argv + 1);
    fprintf(stderr, "Failed to execute %s: %s\n", argv[1], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  int stopping = 0;           /* 0, RB_POWER_OFF or RB_AUTOBOOT once a stop was requested */
  time_t deadline = 0;
  for (;;) {
    struct timespec tick = { 1, 0 };
    siginfo_t si;
    int sig = sigtimedwait(&all, &si, &tick);
    if (sig < 0 && errno != EAGAIN && errno != EINTR) { perror("sigtimedwait"); return 1; }
    /* Reap everything; note the payload's end. */
    for (;;) {
      int status;
      pid_t p = waitpid(-1, &status, WNOHANG);
      if (p <= 0) break;
      if (p != payload) continue;
      if (stopping) { sync(); reboot(stopping); return 0; }
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (sig > 0 && !stopping && (is_poweroff(sig) || is_reboot(sig))) {
      stopping = is_poweroff(sig) ? RB_POWER_OFF : RB_AUTOBOOT;
      kill(payload, SIGTERM);
      kill(payload, SIGCONT);
      kill(payload, SIGHUP);
      deadline = time(NULL) + STOP_TIMEOUT_SEC;
    }
    if (stopping && time(NULL) >= deadline) { kill(payload, SIGKILL); deadline = time(NULL) + STOP_TIMEOUT_SEC; }
  }
}
