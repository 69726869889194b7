#!/usr/bin/env python3
"""`pagedkv serve` driven by the real `openai` Python client (issue 19), run by CTest:

    python3 src/server/server_openai_test.py build/pagedkv

The server runs the tiny qwen3 fixture model with its 288-token tokenizer (whose
generation_config.json names id 33 as EOS; `ignore_eos`, a vLLM extension, keeps sampling past
it where a test needs a set length). Checked: models and health; completions and chat, streamed
and not (streamed text == whole text == the CLI's text); n > 1; a batch of prompts; token-id
prompts stopping at EOS; stop strings; seeds (same seed -> same text); logprobs in both shapes;
usage; raw-HTTP errors (malformed JSON, each field's wrong type and range, oversize prompts,
unknown routes and models, a body over the limit) as OpenAI-style errors naming the field;
a client that disconnects, streamed or not, cancels its request and its blocks return to the
pool; overload answers 503 with Retry-After; SIGTERM stops the server cleanly.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test_util as util  # noqa: E402

util.reexec_in_venv()
import openai  # noqa: E402

PAGEDKV = sys.argv[1]
T = util.Checks("server_openai_test")
check = T.check
IGNORE_EOS = {"ignore_eos": True}
# A request that runs for a while on the tiny model: 48 samples x 400 tokens.
LONG = {"prompt": "Hello world", "n": 48, "max_tokens": 400, "ignore_eos": True, "temperature": 1.0}

srv = util.Server(PAGEDKV, "--num-blocks", "512", "--max-queued", "4", "--max-body-bytes", "200000")
client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0)
M = srv.name

# --- models, health ---------------------------------------------------------------------------
models = client.models.list()
check([m.id for m in models.data] == [M], "GET /v1/models lists the served model name", models)
status, _, body = srv.http("GET", "/health")
check(status == 200, "GET /health is 200", body)

# --- completions ---------------------------------------------------------------------------------
r = client.completions.create(model=M, prompt="Hello world", max_tokens=10, temperature=0, extra_body=IGNORE_EOS)
full = r.choices[0].text
check(r.object == "text_completion" and r.id.startswith("cmpl-") and r.model == M,
      "completion: object, id cmpl-..., model", r)
check(r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 10 and
      r.usage.prompt_tokens == 9 and r.usage.total_tokens == 19,
      "completion: 10 tokens, finish 'length', usage (the prompt is 9 tokens)", r)
cli = subprocess.run([PAGEDKV, "generate", *util.MODEL, "--prompt", "Hello world", "--max-new-tokens", "10",
                      "--temperature", "0", "--ignore-eos", "--json"], capture_output=True, text=True)
check(cli.returncode == 0 and json.loads(cli.stdout)["samples"][0]["text"] == full,
      "completion text == `pagedkv generate` text (greedy)", f"{full!r} vs {cli.stdout}{cli.stderr}")

chunks = list(client.completions.create(model=M, prompt="Hello world", max_tokens=10, temperature=0, stream=True,
                                        stream_options={"include_usage": True}, extra_body=IGNORE_EOS))
text = "".join(c.choices[0].text for c in chunks if c.choices)
check(text == full, "streamed completion text == whole text", f"{text!r} vs {full!r}")
check(len([c for c in chunks if c.choices and c.choices[0].text]) >= 2, "the completion streams in pieces",
      len(chunks))
finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
check(finals == ["length"], "one finish_reason chunk", finals)
check(chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 10,
      "stream_options.include_usage: a last chunk with usage", chunks[-1])

# Token-id prompt (testdata/qwen3 prompt 0): HF's greedy continuation is 150 x4 then EOS (33).
r = client.completions.create(model=M, prompt=[70, 166, 60, 190, 53], max_tokens=24, temperature=0)
check(r.choices[0].finish_reason == "stop" and r.usage.completion_tokens == 4 and r.usage.prompt_tokens == 5,
      "token-id prompt: EOS stops after 4 tokens, finish 'stop'", r)

# --- chat ------------------------------------------------------------------------------------------
msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello world"}]
r = client.chat.completions.create(model=M, messages=msgs, max_tokens=12, temperature=0, extra_body=IGNORE_EOS)
chat_full = r.choices[0].message.content
check(r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.choices[0].message.role == "assistant"
      and r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 12 and len(chat_full) > 0,
      "chat: object, id, assistant message, 12 tokens", r)
chunks = list(client.chat.completions.create(model=M, messages=msgs, max_tokens=12, temperature=0, stream=True,
                                             extra_body=IGNORE_EOS))
check(chunks[0].object == "chat.completion.chunk" and chunks[0].choices[0].delta.role == "assistant",
      "streamed chat: the first chunk carries role 'assistant'", chunks[0])
text = "".join(c.choices[0].delta.content or "" for c in chunks)
check(text == chat_full, "streamed chat text == whole text", f"{text!r} vs {chat_full!r}")
check(chunks[-1].choices[0].finish_reason == "length", "streamed chat ends with finish_reason", chunks[-1])
# Content as a list of text parts is the same conversation.
parts = [msgs[0], {"role": "user", "content": [{"type": "text", "text": "Hello world"}]}]
r = client.chat.completions.create(model=M, messages=parts, max_tokens=12, temperature=0, extra_body=IGNORE_EOS)
check(r.choices[0].message.content == chat_full, "content parts [{type: text}] == string content", r)
# Without max_tokens chat may use the whole room left in the context (and stops at EOS).
r = client.chat.completions.create(model=M, messages=msgs, temperature=0)
check(r.choices[0].finish_reason == "stop" and r.usage.total_tokens <= 512, "chat default max_tokens", r)

# --- n > 1, batches, seeds ---------------------------------------------------------------------------
r = client.completions.create(model=M, prompt="Hello", n=3, max_tokens=8, temperature=1.0, seed=7,
                              extra_body=IGNORE_EOS)
texts = [c.text for c in sorted(r.choices, key=lambda c: c.index)]
check([c.index for c in r.choices] == [0, 1, 2] and len(set(texts)) >= 2 and r.usage.completion_tokens == 24,
      "n=3: three different samples, indexes 0..2, usage counts all", texts)
chunks = list(client.completions.create(model=M, prompt="Hello", n=3, max_tokens=8, temperature=1.0, seed=7,
                                        stream=True, extra_body=IGNORE_EOS))
streamed = ["", "", ""]
for c in chunks:
    for ch in c.choices:
        streamed[ch.index] += ch.text
check(streamed == texts, "n=3 streamed, reassembled by index == whole", f"{streamed} vs {texts}")
r2 = client.completions.create(model=M, prompt="Hello", n=3, max_tokens=8, temperature=1.0, seed=7,
                               extra_body=IGNORE_EOS)
check([c.text for c in sorted(r2.choices, key=lambda c: c.index)] == texts, "same seed -> same texts", r2)
r3 = client.completions.create(model=M, prompt="Hello", n=3, max_tokens=8, temperature=1.0, seed=8,
                               extra_body=IGNORE_EOS)
check([c.text for c in sorted(r3.choices, key=lambda c: c.index)] != texts, "another seed -> other texts", r3)
a = client.chat.completions.create(model=M, messages=msgs, max_tokens=10, temperature=0.9, seed=123)
b = client.chat.completions.create(model=M, messages=msgs, max_tokens=10, temperature=0.9, seed=123)
check(a.choices[0].message.content == b.choices[0].message.content, "chat: same seed -> same text", (a, b))
r = client.completions.create(model=M, prompt=["Hello", "world"], n=2, max_tokens=4, temperature=0,
                              extra_body=IGNORE_EOS)
by_index = {c.index: c.text for c in r.choices}
solo = client.completions.create(model=M, prompt="world", max_tokens=4, temperature=0, extra_body=IGNORE_EOS)
check(sorted(by_index) == [0, 1, 2, 3] and by_index[2] == by_index[3] == solo.choices[0].text,
      "a batch of 2 prompts x n=2: choice p*n+i, each as its prompt alone", (by_index, solo))

# --- stop strings ----------------------------------------------------------------------------------------
base = client.completions.create(model=M, prompt="Hello world", max_tokens=16, temperature=0,
                                 extra_body=IGNORE_EOS).choices[0].text
stop = base[3:5]
want = base[: base.find(stop)]
r = client.completions.create(model=M, prompt="Hello world", max_tokens=16, temperature=0, stop=[stop],
                              extra_body=IGNORE_EOS)
check(r.choices[0].text == want and r.choices[0].finish_reason == "stop",
      f"stop {stop!r}: the text ends before it, finish 'stop'", f"{r.choices[0].text!r} vs {want!r}")
chunks = list(client.completions.create(model=M, prompt="Hello world", max_tokens=16, temperature=0, stop=stop,
                                        stream=True, extra_body=IGNORE_EOS))
text = "".join(c.choices[0].text for c in chunks if c.choices)
check(text == want, "streamed: no text past the stop string is ever sent", f"{text!r} vs {want!r}")

# --- logprobs ------------------------------------------------------------------------------------------
r = client.completions.create(model=M, prompt="Hello world", max_tokens=6, temperature=0, logprobs=3,
                              extra_body=IGNORE_EOS)
lp = r.choices[0].logprobs
check(len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6 and
      all(x <= 0 for x in lp.token_logprobs) and lp.text_offset == sorted(lp.text_offset) and lp.text_offset[0] == 0,
      "completions logprobs=3: tokens, token_logprobs <= 0, text_offset", lp)
# Token strings of this byte-level vocabulary are often partial UTF-8 (all U+FFFD): name them by
# id (vLLM's return_tokens_as_token_ids) to check the alternatives exactly.
r = client.completions.create(model=M, prompt="Hello world", max_tokens=6, temperature=0, logprobs=3,
                              extra_body={**IGNORE_EOS, "return_tokens_as_token_ids": True})
lp = r.choices[0].logprobs
check(all(t.startswith("token_id:") for t in lp.tokens) and all(len(t) == 3 for t in lp.top_logprobs) and
      all(max(t.values()) == lp.token_logprobs[i] and t[lp.tokens[i]] == lp.token_logprobs[i]
          for i, t in enumerate(lp.top_logprobs)),
      "logprobs=3 by id: 3 alternatives, the greedy choice is the most likely", lp)
r = client.chat.completions.create(model=M, messages=msgs, max_tokens=6, temperature=0, logprobs=True,
                                   top_logprobs=2, extra_body=IGNORE_EOS)
content = r.choices[0].logprobs.content
check(len(content) == 6 and all(len(t.top_logprobs) == 2 and t.logprob <= 0 and
                                t.top_logprobs[0].logprob == t.logprob for t in content),
      "chat logprobs: one entry per token, 2 alternatives, greedy = the first", content)
check(b"".join(bytes(t.bytes) for t in content).decode("utf-8", "replace") == r.choices[0].message.content,
      "chat logprobs: the tokens' bytes spell the message", content)
chunks = list(client.chat.completions.create(model=M, messages=msgs, max_tokens=6, temperature=0, logprobs=True,
                                             top_logprobs=2, stream=True, extra_body=IGNORE_EOS))
streamed = [t.token for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
check(streamed == [t.token for t in content], "streamed chat logprobs == whole", (streamed, content))

# --- errors through the client ----------------------------------------------------------------------------
try:
    client.completions.create(model=M, prompt="Hello", temperature=5)
    check(False, "temperature 5 raises BadRequestError")
except openai.BadRequestError as e:
    check(e.status_code == 400 and "temperature" in str(e), "temperature 5: BadRequestError naming it", e)
try:
    client.completions.create(model="gpt-4", prompt="Hello")
    check(False, "an unknown model raises NotFoundError")
except openai.NotFoundError as e:
    check(e.status_code == 404 and "gpt-4" in str(e), "unknown model: 404 naming it", e)


# --- raw HTTP: every malformed body is a 400 whose error names the field ------------------------------------
def expect_error(path, body, status, param, what, raw=None, contains=None):
    code, _, text = srv.http("POST", path, body, raw=raw)
    try:
        err = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        err = {}
    ok = code == status and err.get("param") == param and isinstance(err.get("message"), str) and \
        err["message"] != "" and (contains is None or contains in err["message"])
    check(ok, f"{what}: HTTP {status}, param {param!r}", f"{body if raw is None else raw[:80]} -> {code} {text[:300]}")


C, CH = "/v1/completions", "/v1/chat/completions"
P = {"prompt": "Hello"}
U = {"messages": [{"role": "user", "content": "Hi"}]}
expect_error(C, None, 400, None, "malformed JSON", raw=b'{"prompt": "Hello",')
expect_error(C, None, 400, None, "a body that is not an object", raw=b'[1, 2]')
expect_error(C, None, 400, None, "an empty body", raw=b'')
expect_error(C, None, 400, None, "a body nested 50k deep (issue 20: refused before parsing)",
             raw=b"{\"prompt\": " + b"[" * 50000 + b"]" * 50000 + b"}", contains="deeper than 128")
for field, bad, why in [("temperature", "hot", "type"), ("temperature", 2.5, "range"), ("temperature", -1, "range"),
                        ("top_p", "x", "type"), ("top_p", 0, "range"), ("top_p", 1.5, "range"),
                        ("top_k", 1.5, "type"), ("top_k", -2, "range"), ("top_k", 100000, "range"),
                        ("min_p", [], "type"), ("min_p", 2, "range"),
                        ("max_tokens", "ten", "type"), ("max_tokens", 0, "range"), ("max_tokens", 2.5, "type"),
                        ("n", "2", "type"), ("n", 0, "range"), ("n", 1000, "range"),
                        ("seed", "7", "type"), ("seed", 1.5, "type"),
                        ("stop", 5, "type"), ("stop", ["a"] * 17, "range"), ("stream", "yes", "type"),
                        ("logprobs", "3", "type"), ("logprobs", 50, "range"), ("logprobs", -1, "range"),
                        ("ignore_eos", 1, "type"), ("model", 5, "type"), ("echo", True, "unsupported"),
                        ("presence_penalty", 0.5, "unsupported"), ("best_of", 3, "unsupported")]:
    expect_error(C, {**P, field: bad}, 400, field, f"completions {field}={bad!r} ({why})")
expect_error(C, {**P, "stop": ["ok", 3]}, 400, "stop[1]", "a non-string stop entry")
expect_error(C, {**P, "stop": ""}, 400, "stop", "an empty stop string")
expect_error(C, {**P, "stream_options": 3}, 400, "stream_options", "stream_options not an object")
expect_error(C, {"max_tokens": 3}, 400, "prompt", "no prompt")
expect_error(C, {"prompt": 3}, 400, "prompt", "prompt of a wrong type")
expect_error(C, {"prompt": []}, 400, "prompt", "an empty prompt")
expect_error(C, {"prompt": [1, 999]}, 400, "prompt[1]", "a token id outside the vocabulary")
expect_error(C, {"prompt": ["a", 3]}, 400, "prompt[1]", "a batch entry of a wrong type")
expect_error(C, {"prompt": [5] * 600}, 400, "prompt", "a 600-token prompt on a 512-token model", contains="512")
expect_error(C, {"prompt": [5] * 500, "max_tokens": 20}, 400, "max_tokens", "prompt + max_tokens past the context",
             contains="512")
expect_error(C, {**P, "model": "other"}, 404, "model", "another model's name")
for field, bad in [("messages", "hi"), ("messages", []), ("logprobs", 3), ("top_logprobs", "2"),
                   ("top_logprobs", 30), ("max_completion_tokens", 0), ("chat_template_kwargs", [1]),
                   ("tools", {})]:
    expect_error(CH, {**U, field: bad}, 400, field, f"chat {field}={bad!r}")
expect_error(CH, {"max_tokens": 3}, 400, "messages", "chat without messages")
expect_error(CH, {"messages": [{"content": "Hi"}]}, 400, "messages[0].role", "a message without a role")
expect_error(CH, {"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content", "content of a wrong type")
expect_error(CH, {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400,
             "messages[0].content[0].type", "a non-text content part")
expect_error(CH, {**U, "top_logprobs": 2}, 400, "top_logprobs", "top_logprobs without logprobs")
expect_error(CH, {"messages": [{"role": "user", "content": "Hello " * 400}]}, 400, "messages",
             "a conversation longer than the context", contains="512")
expect_error(C, None, 413, None, "a body over --max-body-bytes", raw=json.dumps({"prompt": "a" * 300000}).encode())
code, _, text = srv.http("POST", C, {**P, "max_tokens": 2, "some_future_field": {"x": 1}, "user": "me"})
check(code == 200, "unknown fields are ignored", f"{code} {text}")
for method, path in [("GET", "/v1/nothing"), ("POST", "/v2/completions"), ("GET", "/v1/completions")]:
    code, _, text = srv.http(method, path)
    check(code == 404 and "error" in json.loads(text or "{}"), f"{method} {path}: 404 with an error object",
          f"{code} {text}")


# --- a client that disconnects cancels its request -------------------------------------------------------------
def aborted(m):
    return m['pagedkv_requests_finished_total{finished_reason="abort"}']


def idle(m):
    return m["pagedkv_kv_blocks_used"] == 0 and m["pagedkv_num_requests_running"] == 0 and \
        m["pagedkv_num_requests_waiting"] == 0


m0 = srv.metrics()
check(idle(m0), "idle before the disconnect tests: no blocks used", m0)
for stream in (True, False):
    before = aborted(srv.metrics())
    t0 = time.time()
    s = srv.open_stream(C, {**LONG, "stream": stream})
    if stream:
        util.read_until(s, b"data: ")  # the stream has started
    else:
        time.sleep(0.2)
    m, _ = srv.wait_metrics(lambda m: m["pagedkv_kv_blocks_used"] > 0, timeout=5)
    check(m["pagedkv_kv_blocks_used"] > 0, f"stream={stream}: the long request holds blocks", m)
    s.close()
    m, ok = srv.wait_metrics(lambda m: aborted(m) == before + 1 and idle(m), timeout=5)
    check(ok, f"stream={stream}: the client's disconnect aborts its request and frees its blocks "
              f"({time.time() - t0:.2f} s)", {k: v for k, v in m.items() if "blocks" in k or "finished" in k})

# --- overload: --max-queued 4 -> the fifth concurrent request gets 503 + Retry-After -------------------------
held = [srv.open_stream(C, {**LONG, "stream": False}) for _ in range(4)]
m, ok = srv.wait_metrics(lambda m: m["pagedkv_num_requests_running"] + m["pagedkv_num_requests_waiting"] == 4)
check(ok, "four long requests in the server", m)
code, headers, text = srv.http("POST", C, {**P, "max_tokens": 2})
check(code == 503 and headers.get("Retry-After") == "1" and "error" in json.loads(text),
      "a fifth request: 503 with Retry-After and an error object", f"{code} {headers} {text}")
for s in held:
    s.close()
m, ok = srv.wait_metrics(idle, timeout=10)
check(ok, "the dropped requests are cancelled: pool idle again", m)
code, _, text = srv.http("POST", C, {**P, "max_tokens": 2})
check(code == 200, "after the overload: requests are served again", f"{code} {text}")
m = srv.metrics()
check(m['pagedkv_request_errors_total{code="503"}'] == 1 and m['pagedkv_request_errors_total{code="413"}'] == 1,
      "/metrics counts the 503 and the 413", m)

rc = srv.stop()
check(rc == 0 and "stopped" in "".join(srv.log), "SIGTERM stops the server cleanly (exit 0)", f"rc={rc} {srv.log}")
T.finish()
