/* A slow disk for benchmarks: every fsync and fdatasync of a process (and of its children)
 * waits SLOW_SYNC_US microseconds (default 2500) after the real call returns. Loaded with
 * LD_PRELOAD by `jobs_throughput` for its slow-disk run, so the gateway, SQLite, a
 * PostgreSQL server the bench starts and the durable-write peer all see the same disk.
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
    delay_us = v ? atol(v) : 2500;
  }
  struct timespec left = {delay_us / 1000000, (delay_us % 1000000) * 1000};
  while (nanosleep(&left, &left) != 0) {
  }
}

/* fsync and fdatasync: the real call, then the wait */
#define SLOWED(name)                                              \
  int name(int fd) {                                              \
    static int (*real)(int);                                      \
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, #name);      \
    int r = real(fd);                                             \
    slow_down();                                                  \
    return r;                                                     \
  }

SLOWED(fsync)
SLOWED(fdatasync)
