// The engine thread (EngineLoop) on the tiny qwen3 fixture: events in order, streamed deltas
// that add up to the final output, equal to the engine run alone; cancel frees the blocks; the
// request bound; refusals; shutdown. Then the two HTTP helpers: the bounded task queue and the
// connection watch on a real loopback connection.

#include "server/engine_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "engine/models.h"
#include "server/bounded_task_queue.h"
#include "server/connection_watch.h"
#include "tokenizer/model_tokenizer.h"

namespace pagedkv {
namespace {

using namespace std::chrono_literals;

class EngineLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = std::make_unique<ModelTokenizer>(ModelTokenizer::load("testdata/tokenizers/qwen3-tiny"));
    model_ = load_model("testdata/qwen3");
  }
  EngineConfig config(int32_t num_blocks = 256) const {
    EngineConfig c;
    c.num_blocks = num_blocks;
    c.tokenizer = &tok_->tokenizer;
    return c;
  }
  static SamplingParams params(int32_t max_tokens, int32_t n = 1) {
    SamplingParams p;
    p.max_tokens = max_tokens;
    p.n = n;
    p.temperature = 0.9f;
    p.seed = 11;
    return p;
  }
  std::vector<int32_t> prompt(const std::string& text) const {
    return tok_->tokenizer.encode(text);
  }

  // Every event of the channel until `prompts` kFinished (or a kRejected / kFailed), 10 s at most.
  static std::vector<ChannelEvent> drain(RequestChannel& ch, size_t prompts) {
    std::vector<ChannelEvent> all;
    size_t finished = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (finished < prompts && std::chrono::steady_clock::now() < deadline) {
      std::vector<ChannelEvent> got;
      ch.wait(got, 50ms);
      for (ChannelEvent& e : got) {
        finished += e.kind == ChannelEvent::Kind::kFinished;
        if (e.kind == ChannelEvent::Kind::kRejected || e.kind == ChannelEvent::Kind::kFailed)
          finished = prompts;
        all.push_back(std::move(e));
      }
    }
    return all;
  }

  std::unique_ptr<ModelTokenizer> tok_;
  std::unique_ptr<ModelRunner> model_;
};

TEST_F(EngineLoopTest, StreamsDeltasThatAddUpToTheOutputOfTheRequestAlone) {
  // Alone, without the loop.
  Engine solo(*model_, config());
  solo.add_request(prompt("Hello world"), params(12, 2));
  const RequestOutput want = solo.run().at(0);

  Engine engine(*model_, config());
  ServerMetrics metrics;
  EngineLoop loop(engine, metrics, 8);
  auto ch = std::make_shared<RequestChannel>();
  ASSERT_TRUE(loop.submit(ch, {prompt("Hello world")}, {params(12, 2)}, true));
  const std::vector<ChannelEvent> ev = drain(*ch, 1);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.front().kind, ChannelEvent::Kind::kAccepted);
  EXPECT_EQ(ev.back().kind, ChannelEvent::Kind::kFinished);
  std::vector<std::string> text(2);
  std::vector<std::vector<int32_t>> ids(2);
  for (const ChannelEvent& e : ev)
    if (e.kind == ChannelEvent::Kind::kDelta) {
      text.at(size_t(e.delta.sample)) += e.delta.text;
      ids.at(size_t(e.delta.sample))
          .insert(ids[size_t(e.delta.sample)].end(), e.delta.tokens.begin(), e.delta.tokens.end());
    }
  const RequestOutput& got = ev.back().output;
  ASSERT_EQ(got.samples.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got.samples[i].tokens, want.samples[i].tokens) << "sample " << i << " as alone";
    EXPECT_EQ(got.samples[i].text, want.samples[i].text);
    EXPECT_EQ(text[i], got.samples[i].text) << "deltas add up to the text";
    EXPECT_EQ(ids[i], got.samples[i].tokens);
  }
  EXPECT_EQ(loop.in_flight(), 0);
  loop.stop();
  const EngineMetrics m = metrics.engine();
  EXPECT_EQ(m.blocks_used, 0);
  const std::string text_metrics = metrics.render();
  EXPECT_NE(text_metrics.find("pagedkv_generation_tokens_total 24"), std::string::npos)
      << text_metrics;
  EXPECT_NE(text_metrics.find("pagedkv_time_to_first_token_seconds_count 1"), std::string::npos);
}

TEST_F(EngineLoopTest, WholeResponsesGetNoDeltas) {
  Engine engine(*model_, config());
  ServerMetrics metrics;
  EngineLoop loop(engine, metrics, 8);
  auto ch = std::make_shared<RequestChannel>();
  ASSERT_TRUE(loop.submit(ch, {prompt("Hello"), prompt("world")}, {params(5), params(6)}, false));
  const std::vector<ChannelEvent> ev = drain(*ch, 2);
  ASSERT_EQ(ev.size(), 3u) << "accepted + one output per prompt";
  EXPECT_EQ(ev[0].kind, ChannelEvent::Kind::kAccepted);
  std::set<int32_t> prompts;
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(ev[i].kind, ChannelEvent::Kind::kFinished);
    prompts.insert(ev[i].prompt);
    EXPECT_EQ(ev[i].output.samples.at(0).tokens.size(), size_t(5 + ev[i].prompt));
  }
  EXPECT_EQ(prompts, (std::set<int32_t>{0, 1}));
}

TEST_F(EngineLoopTest, CancelAbortsAndFreesTheBlocks) {
  Engine engine(*model_, config(512));
  ServerMetrics metrics;
  EngineLoop loop(engine, metrics, 8);
  auto ch = std::make_shared<RequestChannel>();
  SamplingParams p = params(400, 32);  // runs for a while
  ASSERT_TRUE(loop.submit(ch, {prompt("Hello world")}, {p}, true));
  // Wait until it holds blocks.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (metrics.engine().blocks_used == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_GT(metrics.engine().blocks_used, 0);
  loop.cancel(ch);
  const std::vector<ChannelEvent> ev = drain(*ch, 1);
  ASSERT_EQ(ev.back().kind, ChannelEvent::Kind::kFinished);
  const RequestOutput& out = ev.back().output;
  for (const SampleOutput& s : out.samples) {
    EXPECT_EQ(s.finish, FinishReason::kAbort);
    EXPECT_LT(s.tokens.size(), 400u) << "stopped early";
  }
  EXPECT_EQ(loop.in_flight(), 0);
  while (metrics.engine().blocks_used != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(metrics.engine().blocks_used, 0);
  EXPECT_NE(metrics.render().find("pagedkv_requests_finished_total{finished_reason=\"abort\"} 1"),
            std::string::npos);
  loop.cancel(ch);  // again: nothing left, nothing happens
}

TEST_F(EngineLoopTest, BoundsTheRequestsInTheServer) {
  Engine engine(*model_, config(512));
  ServerMetrics metrics;
  EngineLoop loop(engine, metrics, 3);
  auto a = std::make_shared<RequestChannel>(), b = std::make_shared<RequestChannel>();
  ASSERT_TRUE(loop.submit(a, {prompt("a"), prompt("b")}, {params(400, 16), params(400, 16)}, true));
  ASSERT_TRUE(loop.submit(b, {prompt("c")}, {params(400, 16)}, true));
  EXPECT_EQ(loop.in_flight(), 3);
  auto c = std::make_shared<RequestChannel>();
  EXPECT_FALSE(loop.submit(c, {prompt("d")}, {params(4)}, true)) << "a fourth is refused";
  loop.cancel(a);
  drain(*a, 2);
  EXPECT_TRUE(loop.submit(c, {prompt("d")}, {params(4)}, true)) << "room again";
  loop.cancel(b);
  drain(*b, 1);
  drain(*c, 1);
  EXPECT_EQ(loop.in_flight(), 0);
}

TEST_F(EngineLoopTest, TheEngineRefusesWhatCannotFitThePool) {
  Engine engine(*model_, config(4));  // 4 blocks of 16 tokens
  ServerMetrics metrics;
  EngineLoop loop(engine, metrics, 8);
  auto ch = std::make_shared<RequestChannel>();
  // The first prompt fits, the second cannot: the request is refused whole.
  ASSERT_TRUE(loop.submit(ch, {prompt("Hi"), prompt("Hello")}, {params(8), params(100)}, true));
  const std::vector<ChannelEvent> ev = drain(*ch, 2);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, ChannelEvent::Kind::kRejected);
  EXPECT_NE(ev[0].error.find("KV pool"), std::string::npos) << ev[0].error;
  EXPECT_EQ(loop.in_flight(), 0);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(metrics.engine().blocks_used, 0);
  EXPECT_EQ(metrics.engine().running_requests + metrics.engine().waiting_requests, 0);
}

TEST_F(EngineLoopTest, StopFailsWhatIsInFlight) {
  Engine engine(*model_, config(512));
  ServerMetrics metrics;
  auto loop = std::make_unique<EngineLoop>(engine, metrics, 8);
  auto ch = std::make_shared<RequestChannel>();
  ASSERT_TRUE(loop->submit(ch, {prompt("Hello")}, {params(400, 32)}, true));
  std::this_thread::sleep_for(20ms);
  loop->stop();
  const std::vector<ChannelEvent> ev = drain(*ch, 1);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().kind, ChannelEvent::Kind::kFailed);
  EXPECT_FALSE(loop->submit(ch, {prompt("x")}, {params(2)}, true)) << "stopped: refuses";
  EXPECT_EQ(engine.metrics().blocks_used, 0);
}

TEST(BoundedTaskQueue, RunsEveryJobAndBlocksWhenFull) {
  std::atomic<int> done{0};
  std::atomic<bool> release{false};
  BoundedTaskQueue q(1, 1);
  q.enqueue([&] {
    while (!release) std::this_thread::sleep_for(1ms);
    ++done;
  });
  std::this_thread::sleep_for(20ms);  // the worker has taken job 1
  q.enqueue([&] { ++done; });         // job 2 waits: the one pending slot
  std::atomic<bool> third_queued{false};
  std::thread producer([&] {
    q.enqueue([&] { ++done; });  // blocks until job 2 leaves the queue
    third_queued = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(third_queued) << "enqueue blocks while the queue is full";
  release = true;
  producer.join();
  EXPECT_TRUE(third_queued);
  q.shutdown();
  EXPECT_EQ(done, 3);
}

TEST(BoundedTaskQueue, TheMostRecentlyIdleWorkerTakesTheNextJob) {
  BoundedTaskQueue q(8, 8);
  std::this_thread::sleep_for(20ms);  // every worker parked
  std::mutex mu;
  std::vector<std::thread::id> ran;
  for (int i = 0; i < 5; ++i) {
    std::atomic<bool> finished{false};
    q.enqueue([&] {
      std::lock_guard<std::mutex> lock(mu);
      ran.push_back(std::this_thread::get_id());
      finished = true;
    });
    while (!finished) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(5ms);  // the worker parks again
  }
  q.shutdown();
  for (size_t i = 1; i < ran.size(); ++i)
    EXPECT_EQ(ran[i], ran[0]) << "one warm worker serves them all";
}

TEST(ConnectionWatch, SeesThePeerClose) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  sockaddr_in peer{};
  len = sizeof(peer);
  getpeername(server, reinterpret_cast<sockaddr*>(&peer), &len);

  const ConnectionWatch watch("127.0.0.1", ntohs(addr.sin_port), "127.0.0.1", ntohs(peer.sin_port));
  ASSERT_TRUE(watch.found());
  EXPECT_FALSE(watch.closed());
  const ConnectionWatch wrong("127.0.0.1", ntohs(addr.sin_port), "127.0.0.1", 1);
  EXPECT_FALSE(wrong.found());
  EXPECT_FALSE(wrong.closed()) << "not found: never reports a close";
  close(client);
  std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(watch.closed());
  close(server);
  close(listener);
}

}  // namespace
}  // namespace pagedkv
