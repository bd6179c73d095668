/* The JetStream ceiling for bench/run: a bare publish loop with the client library folderhook
 * uses (nats.c), and a reader of a stream's message count.
 *   nats_publish ceiling URL SUBJECT N   makes stream CEIL for SUBJECT (file storage), then
 *                                        N asynchronous publishes of a webhook-sized JSON body,
 *                                        each with its own Nats-Msg-Id, then waits for every
 *                                        acknowledgement; prints "rate R" (messages/s, acked)
 *   nats_publish count URL STREAM        prints the stream's message count
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, natsStatus s) {
  fprintf(stderr, "nats_publish: %s: %s\n", what, natsStatus_GetText(s));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5 && !(argc == 4 && strcmp(argv[1], "count") == 0)) {
    fprintf(stderr, "usage: nats_publish ceiling URL SUBJECT N | count URL STREAM\n");
    return 2;
  }
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, argv[2]);
  if (s != NATS_OK) return fail("connect", s);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 4096;
  if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK) return fail("jetstream", s);
  if (strcmp(argv[1], "count") == 0) {
    jsStreamInfo *si = NULL;
    if ((s = js_GetStreamInfo(&si, js, argv[3], NULL, NULL)) != NATS_OK) return fail("info", s);
    printf("%llu\n", (unsigned long long)si->State.Msgs);
    jsStreamInfo_Destroy(si);
  } else {
    const long n = atol(argv[4]);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[] = {argv[3]};
    cfg.Name = "CEIL";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = 7200LL * 1000000000LL; /* as nats-stream's default */
    if ((s = js_AddStream(NULL, js, &cfg, NULL, NULL)) != NATS_OK) return fail("stream", s);
    char body[300], id[64];
    const double start = now_s();
    for (long i = 0; i < n; ++i) {
      snprintf(body, sizeof body,
               "{\"action\":\"create\",\"interface\":\"sftp\",\"path\":\"/srv/files/in/f%ld\","
               "\"at\":\"2026-12-02T23:00:00+00:00\",\"username\":\"bench\",\"type\":\"file\"}", i);
      snprintf(id, sizeof id, "msg_ceiling_%ld_%ld", (long)start, i);
      natsMsg *msg = NULL;
      natsMsg_Create(&msg, argv[3], NULL, body, (int)strlen(body));
      natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
      natsMsgHeader_Set(msg, "Content-Type", "application/json");
      if ((s = js_PublishMsgAsync(js, &msg, NULL)) != NATS_OK) return fail("publish", s);
      natsMsg_Destroy(msg);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK) return fail("acks", s);
    printf("rate %.0f\n", (double)n / (now_s() - start));
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return 0;
}
