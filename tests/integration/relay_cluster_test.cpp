// `folderhook relay` on a three-node JetStream cluster (stream and consumer of three replicas):
// the node the relays connect through killed with SIGKILL mid-stream and brought back; every
// message is still delivered, a duplicate only with the same webhook-id.
#include <doctest/doctest.h>
#include <signal.h>

#include "tests/integration/relay_fixture.h"

using namespace folderhook::test;
using namespace folderhook::test::relay_fixture;
using namespace std::chrono_literals;

TEST_CASE("relay cluster: the first node of three killed mid-stream and brought back: every message delivered") {
  NatsCluster cluster;
  REQUIRE(cluster.started());
  const std::string servers = "nats://" + cluster.servers();
  REQUIRE(add_stream(servers, "FILES", {"files.>"}, /*replicas=*/3) == "");
  TempDir dir;
  Receiver receiver;
  receiver.set_delay(5ms);
  std::string waits;
  for (int i = 0; i < 40; ++i) waits += std::string(i ? ", " : "") + "\"500ms\"";
  const std::string file = relay_file(dir, "relay.toml", servers, folder("/in", receiver.url()),
                                      "timeout = \"2s\"\nretry = [" + waits + "]\n",
                                      "ack_wait = \"5s\"\n");
  constexpr int kMessages = 600;
  REQUIRE(publish_messages(servers, operations(0, kMessages)) == "");
  auto a = start_relay(dir, file, "a.log");
  auto b = start_relay(dir, file, "b.log");
  REQUIRE(wait_until([&] { return ids_received(receiver).size() >= 150; }, 60s));
  cluster.node(0).stop(SIGKILL);
  const size_t at_kill = ids_received(receiver).size();
  const auto tails = [&] {
    const auto tail = [](const std::string& t) { return t.substr(t.size() > 3000 ? t.size() - 3000 : 0); };
    return "relay a (tail): " + tail(a->output()) + "\nrelay b (tail): " + tail(b->output());
  };
  // The other two keep the quorum: the relays go on without node 0.
  REQUIRE_MESSAGE(wait_until([&] { return ids_received(receiver).size() >= at_kill + 150; }, 60s),
                  tails());
  REQUIRE(cluster.node(0).start());
  REQUIRE_MESSAGE(wait_until([&] { return ids_received(receiver).size() == kMessages; }, 120s),
                  tails());
  REQUIRE(wait_until([&] { return relay_status(file).value("pending", int64_t{-1}) == 0; }, 60s));

  check_one_id_per_path(receiver, kMessages);
  MESSAGE("delivered when node 0 was killed: " << at_kill << " of " << kMessages
                                               << "; requests in all: " << receiver.count());
  CHECK(a->stop(SIGTERM) == 0);
  CHECK(b->stop(SIGTERM) == 0);
}
