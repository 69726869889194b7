#!/usr/bin/env python3
"""Bounded load test of `pagedkv serve` (issue 19), run by CTest (alone: it measures memory):

    python3 src/server/server_load_test.py build/pagedkv

64 concurrent streaming clients (the real `openai` client, one per thread) run a fixed list of
128 chat requests that share one system prompt (seeded sampling, 24 tokens each); 8 more clients
start streams of 280 tokens and are killed after their second chunk (socket closed). Checked:
  - every completion equals the same request run alone afterwards (non-streamed, sequentially);
  - /metrics shows the shared system prompt served from the prefix cache, and the 8 killed
    requests aborted (not run to the end);
  - afterwards no KV block is in use (the killed clients' blocks came back), nothing runs or
    waits, /health answers;
  - the server's resident memory returns to its idle level (see MARGIN_KIB).
Prints the figures: clients, requests, wall time, tokens/s, RSS idle / peak / after.
Bounded: a fixed number of requests, every wait has a timeout, traffic only to 127.0.0.1.
"""
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test_util as util  # noqa: E402

util.reexec_in_venv()
import openai  # noqa: E402

PAGEDKV = sys.argv[1]
CLIENTS = 64
REQUESTS = 128
KILLED = 8
MAX_TOKENS = 24
# "Near the idle level": RSS after the load may exceed the idle RSS by at most this, while the
# load raises it by tens of MiB (FILLER). What may stay is what grows to a high-water mark and is
# then reused: hash tables sized by the most requests and sequences at once (the engine's, the
# prefix index's, bounded by the pool), the tokenizer's word cache (bounded) and partly used heap
# pages malloc_trim cannot return. Measured on the 2-core CI machine (one server, five rounds of
# this load after the warm-up): +1.5 MiB after the first round, then +0.34, +0.15, +0.16, +0.09
# MiB (it levels off, where a leak would grow by the same amount each round); a single round
# stays within 1.4-1.9 MiB. A leak of the request bodies alone would be 64 MiB.
MARGIN_KIB = 4 * 1024

T = util.Checks("server_load_test")
check = T.check
SYSTEM = ("You are a careful assistant for a paged KV cache project. Answer briefly and say when you are not "
          "sure. Every request here shares this system prompt, so the server computes it once and serves it "
          "from the prefix cache.")  # 226 tokens with the user turn in this tiny vocabulary


def messages(i):
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Question {i}: what is {i} plus {(7 * i) % 13}?"}]


# Each load request also carries an unknown field of FILLER bytes, which the server must ignore.
# It makes the load raise the server's memory measurably (the request bodies live as long as their
# streams; the tiny model's own per-request state is a few KiB), so that coming back to the idle
# level means something.
FILLER = 512 * 1024


def body(i, stream, filler=0):
    extra = {"ignore_eos": True}
    if filler:
        extra["client_metadata"] = "x" * filler
    return dict(model="tiny-qwen3", messages=messages(i), max_tokens=MAX_TOKENS, temperature=0.8, seed=1000 + i,
                stream=stream, extra_body=extra)


srv = util.Server(PAGEDKV, "--num-blocks", "1024", "--max-queued", "256", "--max-num-seqs", "64")
# Warm-up: one burst at the load's concurrency (short requests), so that what a burst of
# CLIENTS + KILLED connections makes once and keeps is part of the idle level: the workers that
# serve them (handed work last-in first-out, so a later burst of the same size reuses them) with
# their glibc thread caches, and the parsers' first allocations.
def warm_worker(k):
    c = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
    b = body(10_000 + k, k % 2 == 0)
    b["max_tokens"] = 2
    r = c.chat.completions.create(**b)
    list(r) if b["stream"] else r
    c.close()


warm = [threading.Thread(target=warm_worker, args=(k,)) for k in range(CLIENTS + KILLED)]
for t in warm:
    t.start()
for t in warm:
    t.join(timeout=120)
srv.wait_metrics(lambda m: m["pagedkv_num_requests_running"] == 0)
time.sleep(1.0)  # the engine thread trims the heap 0.3 s after it goes idle
rss_idle = srv.rss_kib()
m_idle = srv.metrics()

# --- the load -----------------------------------------------------------------------------------
todo = queue.Queue()
for i in range(REQUESTS):
    todo.put(i)
texts, finishes, cached, errors = {}, {}, {}, []
peak = [rss_idle]
stop_sampling = threading.Event()


def sample_rss():
    while not stop_sampling.is_set():
        peak[0] = max(peak[0], srv.rss_kib())
        time.sleep(0.02)


def client_worker():
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
    while True:
        try:
            i = todo.get_nowait()
        except queue.Empty:
            client.close()
            return
        try:
            text, finish = "", None
            for chunk in client.chat.completions.create(**body(i, True, FILLER),
                                                        stream_options={"include_usage": True}):
                for c in chunk.choices:
                    text += c.delta.content or ""
                    finish = c.finish_reason or finish
                if chunk.usage:
                    cached[i] = chunk.usage.prompt_tokens_details.cached_tokens
            texts[i], finishes[i] = text, finish
        except Exception as e:  # noqa: BLE001 (reported as a failure)
            errors.append(f"request {i}: {e!r}")


killed_chunks = []


def killed_worker(k):
    b = body(20_000 + k, True)
    b["max_tokens"] = 280  # the prompt is 226 tokens of the 512-token context
    b.update(b.pop("extra_body"))
    s = srv.open_stream("/v1/chat/completions", b)
    data = b""
    deadline = time.time() + 60
    while data.count(b"data: ") < 2 and time.time() < deadline:  # the role chunk + a first piece
        got = s.recv(4096)
        if not got:
            break
        data += got
    killed_chunks.append(data.count(b"data: "))
    s.close()  # the client is gone mid-stream


sampler = threading.Thread(target=sample_rss, daemon=True)
sampler.start()
t0 = time.time()
threads = [threading.Thread(target=client_worker) for _ in range(CLIENTS)]
threads += [threading.Thread(target=killed_worker, args=(k,)) for k in range(KILLED)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=300)
load_s = time.time() - t0
hung = sum(t.is_alive() for t in threads)
m_after, idle = srv.wait_metrics(lambda m: m["pagedkv_kv_blocks_used"] == 0 and m["pagedkv_num_requests_running"] == 0
                                 and m["pagedkv_num_requests_waiting"] == 0, timeout=30)
time.sleep(1.0)  # the engine thread trims the heap 0.3 s after it goes idle
stop_sampling.set()
sampler.join()
rss_after = srv.rss_kib()
rss_hwm = srv.rss_kib("VmHWM")
peak[0] = max(peak[0], rss_hwm)

check(hung == 0 and not errors, "every client finished without an error", f"{hung} hung; {errors[:5]}")
check(len(texts) == REQUESTS and all(f == "length" and t for t, f in zip(texts.values(), finishes.values())),
      f"{REQUESTS} streamed completions of {MAX_TOKENS} tokens", f"{len(texts)} done; {list(finishes.values())[:5]}")
check(len(killed_chunks) == KILLED and min(killed_chunks) >= 2, "each killed client got its first chunks before leaving",
      killed_chunks)


def delta(name):
    return m_after[name] - m_idle[name]


aborted = delta('pagedkv_requests_finished_total{finished_reason="abort"}')
check(aborted == KILLED, f"the {KILLED} killed clients' requests were aborted (not run to the end)",
      f"aborted {aborted}")
check(idle, "afterwards: no KV block in use (killed clients' blocks returned), nothing running or waiting",
      {k: v for k, v in m_after.items() if "blocks" in k or "num_requests" in k})
hits, queried = delta("pagedkv_prefix_cache_hits_total"), delta("pagedkv_prefix_cache_queries_total")
# The prompts are 226 tokens; the system turn, which they share, fills 12 blocks of 16. The warm-up
# ran it, so every request of the load (the first one too) takes those from the prefix cache.
SHARED = 12 * 16
check(len(cached) == REQUESTS and min(cached.values()) >= SHARED,
      f"every request reports >= {SHARED} prompt tokens from the prefix cache (usage.prompt_tokens_details)",
      sorted(set(cached.values())))
check(hits >= sum(cached.values()) and hits >= REQUESTS * SHARED,
      f"/metrics shows the prefix hits ({hits:.0f} of {queried:.0f} prompt tokens)", f"hits {hits}")
status, _, _ = srv.http("GET", "/health")
check(srv.alive() and status == 200, "the server stays up", status)
check(m_after["pagedkv_request_errors_total{code=\"503\"}"] == 0, "no request was refused (256 may queue)", m_after)

# --- every completion equals the same request alone --------------------------------------------------
solo = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0)
mismatch = []
t1 = time.time()
for i in range(REQUESTS):
    r = solo.chat.completions.create(**body(i, False))
    if r.choices[0].message.content != texts.get(i):
        mismatch.append((i, texts.get(i), r.choices[0].message.content))
solo_s = time.time() - t1
check(not mismatch, f"every streamed completion under load == the same request alone ({REQUESTS} compared)",
      mismatch[:3])

growth = rss_after - rss_idle
if util.sanitized(PAGEDKV):
    print("AddressSanitizer build: its quarantine holds freed memory; the RSS check is skipped")
else:
    check(growth <= MARGIN_KIB, f"resident memory returns to its idle level (after - idle <= {MARGIN_KIB} KiB)",
          f"idle {rss_idle} KiB, peak {peak[0]} KiB, after {rss_after} KiB")
gen = delta("pagedkv_generation_tokens_total")
print(f"load: {CLIENTS} streaming clients + {KILLED} killed, {REQUESTS} requests x {MAX_TOKENS} tokens in "
      f"{load_s:.2f} s ({gen / load_s:.0f} generated tokens/s incl. the killed), solo re-runs {solo_s:.2f} s; "
      f"prefix hits {hits:.0f}/{queried:.0f} tokens; RSS idle {rss_idle / 1024:.1f} MiB, peak "
      f"{peak[0] / 1024:.1f} MiB, after {rss_after / 1024:.1f} MiB (+{growth} KiB)")
rc = srv.stop()
check(rc == 0, "SIGTERM stops the server (exit 0)", rc)
T.finish()
