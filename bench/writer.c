// The benchmark's file writer: creates files the way an upload does (open, write, close) and
// records when each close() returned, so that latency is measured from the writer's side.
//
//   writer burst DIR N            N files as fast as possible; prints first and last close()
//   writer rate DIR N RATE LOG    N files at RATE per second; LOG gets "name close_unix_seconds"
//   writer tree DIR N             N directories: 100 top-level ones, the rest spread beneath them
//
// Times are CLOCK_REALTIME (nginx's $msec is wall-clock) in seconds with microseconds.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char* what, const char* path) {
  fprintf(stderr, "writer: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static const char kPayload[] = "folderhook bench payload\n";

static double write_one(const char* dir, long i) {
  char path[4096];
  snprintf(path, sizeof path, "%s/f%07ld", dir, i);
  const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) die("open", path);
  if (write(fd, kPayload, sizeof kPayload - 1) != (ssize_t)(sizeof kPayload - 1)) die("write", path);
  if (close(fd) != 0) die("close", path);
  return now_wall();
}

static int burst(const char* dir, long n) {
  const double start = now_wall();
  double last = start;
  for (long i = 0; i < n; ++i) last = write_one(dir, i);
  printf("start %.6f\nlast %.6f\nfiles %ld\n", start, last, n);
  return 0;
}

static int rate(const char* dir, long n, double per_second, const char* log_path) {
  FILE* log = fopen(log_path, "w");
  if (log == NULL) die("fopen", log_path);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  const long step_ns = (long)(1e9 / per_second);
  for (long i = 0; i < n; ++i) {
    // Absolute deadlines: a late wake-up does not shift every later operation.
    next.tv_nsec += step_ns;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec += 1;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
    }
    const double closed = write_one(dir, i);
    fprintf(log, "f%07ld %.6f\n", i, closed);
  }
  fclose(log);
  return 0;
}

static int tree(const char* dir, long n) {
  char path[4096];
  const long top = n < 100 ? n : 100;
  for (long t = 0; t < top; ++t) {
    snprintf(path, sizeof path, "%s/d%03ld", dir, t);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
  }
  for (long i = top; i < n; ++i) {
    snprintf(path, sizeof path, "%s/d%03ld/s%07ld", dir, i % top, i);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
  }
  printf("dirs %ld\n", n);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "burst") == 0) return burst(argv[2], atol(argv[3]));
  if (argc == 6 && strcmp(argv[1], "rate") == 0)
    return rate(argv[2], atol(argv[3]), atof(argv[4]), argv[5]);
  if (argc == 4 && strcmp(argv[1], "tree") == 0) return tree(argv[2], atol(argv[3]));
  fprintf(stderr,
          "usage: writer burst DIR N | writer rate DIR N PER_SECOND LOG | writer tree DIR N\n");
  return 2;
}
