/* A slow disk for benchmarks: every fsync and fdatasync of a process (and of its children)
 * waits SLOW_SYNC_US microseconds (default 5000) after the real call returns. Loaded with
 * LD_PRELOAD by `jobs_throughput` when BENCH_FSYNC_DELAY_MS is set, so the gateway, SQLite,
 * a PostgreSQL server the bench starts and the durable-write peer all see the same disk.
 * Unlike tracing the calls (strace's fault injection, used before), it adds nothing to any
 * other system call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static long delay_us = -1;

static void slow_down(void) {
  if (delay_us < 0) {
    const char *v = getenv("SLOW_SYNC_US");
    delay_us = v ? atol(v) : 5000;
  }
  struct timespec left = {delay_us / 1000000, (delay_us % 1000000) * 1000};
  while (nanosleep(&left, &left) != 0) {
  }
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  int r = real(fd);
  slow_down();
  return r;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  int r = real(fd);
  slow_down();
  return r;
}
