// The least CPU one request at a time costs on this machine: a bare client that sends a GET on
// one keep-alive connection, waits for its answer, and sends the next, as folderhook's sender
// does with connections = 1 and no pipelining. Its CPU per request (user+sys, getrusage) is
// the floor under folderhook's own figure: each request sleeps until its answer comes, and the
// sleep and the wake-up are paid whatever the client does around them.
//
//   roundtrip PORT PATH N     N requests to http://127.0.0.1:PORT/PATH, one at a time
//
// Prints one line: "requests N seconds S cpu_us_per_request C". Answers must be 200 with a
// Content-Length (nginx's `return 200` sends "Content-Length: 0"); anything else is an error.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// `what` failed: a system call (errno says why) or the answer (errno is 0).
static void die(const char* what) {
  if (errno != 0) {
    fprintf(stderr, "roundtrip: %s: %s\n", what, strerror(errno));
  } else {
    fprintf(stderr, "roundtrip: %s\n", what);
  }
  exit(1);
}

// Reads one answer: its head, then as many body bytes as Content-Length says.
static void read_answer(int fd) {
  char buf[8192];
  size_t got = 0;
  for (;;) {
    errno = 0;
    if (got == sizeof buf - 1) die("an answer is over 8 KiB");
    const ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
    if (k <= 0) die(k == 0 ? "the server closed the connection" : "recv");
    got += (size_t)k;
    buf[got] = '\0';
    const char* end = strstr(buf, "\r\n\r\n");
    if (end == NULL) continue;
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0) die("the answer is not 200");
    const char* length = strcasestr(buf, "\r\ncontent-length:");
    if (length == NULL || length > end) die("the answer has no Content-Length");
    const size_t body = strtoul(length + 17, NULL, 10);
    if (got >= (size_t)(end + 4 - buf) + body) return;
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: roundtrip PORT PATH N\n");
    return 2;
  }
  const int port = atoi(argv[1]);
  const long n = atol(argv[3]);
  char request[1024];
  const int len = snprintf(request, sizeof request,
                           "GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: roundtrip\r\n\r\n",
                           argv[2], port);
  if (port <= 0 || n <= 0 || len <= 0 || (size_t)len >= sizeof request) {
    fprintf(stderr, "roundtrip: bad PORT, PATH or N\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) die("connect");
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const double cpu0 = cpu_seconds();
  const double t0 = now_mono();
  for (long i = 0; i < n; ++i) {
    if (send(fd, request, (size_t)len, 0) != len) die("send");
    read_answer(fd);
  }
  const double seconds = now_mono() - t0;
  const double cpu = cpu_seconds() - cpu0;
  close(fd);
  printf("requests %ld seconds %.3f cpu_us_per_request %.1f\n", n, seconds, cpu / (double)n * 1e6);
  return 0;
}
