#!/usr/bin/env python3
"""CLI text round trip (issue 18), run by CTest: `pagedkv generate` on the tiny qwen3 fixture
model with a 288-token byte-level tokenizer (testdata/tokenizers/qwen3-tiny, whose
generation_config.json names id 33 as EOS). Each check prints what it ran when it fails.

    python3 src/cli/cli_text_test.py build/pagedkv
"""
import json
import subprocess
import sys

PAGEDKV = sys.argv[1]
MODEL = ["--model", "testdata/qwen3", "--tokenizer", "testdata/tokenizers/qwen3-tiny"]
PROMPT0 = "70,166,60,190,53"  # testdata/qwen3/expected.json prompt 0; HF greedy: 150 x4, 33 ...
failures = []


def run(*args, stdin=None):
    cmd = [PAGEDKV, "generate", *MODEL, *args]
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    return p, " ".join(cmd)


def check(cond, what, detail=""):
    if not cond:
        failures.append(f"{what}\n    {detail}")


# EOS stops generation, and the EOS token is not part of the output.
p, cmd = run("--prompt-ids", PROMPT0, "--max-new-tokens", "24", "--json")
j = json.loads(p.stdout) if p.returncode == 0 else {}
s = j.get("samples", [{}])[0]
check(p.returncode == 0 and s.get("tokens") == [150] * 4 and s.get("finish_reason") == "stop",
      "EOS (id 33) stops greedy generation after 4 tokens, finish 'stop'", f"{cmd}\n    {p.stdout}{p.stderr}")
# --ignore-eos runs to the length limit with HF's greedy tokens.
p, cmd = run("--prompt-ids", PROMPT0, "--max-new-tokens", "24", "--json", "--ignore-eos")
s = json.loads(p.stdout)["samples"][0] if p.returncode == 0 else {}
check(s.get("tokens") == [150] * 4 + [33] * 20 and s.get("finish_reason") == "length",
      "--ignore-eos: 24 tokens, finish 'length'", f"{cmd}\n    {p.stdout}{p.stderr}")

# Text prompt: streamed text equals the --json text, which decodes the tokens.
p1, cmd1 = run("--prompt", "Hello world", "--max-new-tokens", "10", "--seed", "5", "--temperature", "0.9")
p2, cmd2 = run("--prompt", "Hello world", "--max-new-tokens", "10", "--seed", "5", "--temperature", "0.9", "--json")
ok = p1.returncode == 0 and p2.returncode == 0
j2 = json.loads(p2.stdout) if ok else {}
check(ok and p1.stdout == j2["samples"][0]["text"] + "\n",
      "streamed text == --json text (same seed)", f"{cmd1}\n    {p1.stdout!r}\n    {p2.stdout!r}")
check(ok and j2["prompt_tokens"] == 9 and len(j2["samples"][0]["tokens"]) == 10,
      "'Hello world' is 9 tokens; 10 generated", p2.stdout)
# A random seed is printed when sampling without --seed; --seed repeats.
p, cmd = run("--prompt", "Hello", "--max-new-tokens", "4", "--temperature", "1.0")
check(p.returncode == 0 and "seed " in p.stderr, "a random seed is printed when sampling", p.stderr)

# Stop strings: the text ends before the stop string (not shown), finish 'stop'.
p, cmd = run("--prompt", "Hello world", "--chat", "--max-new-tokens", "12", "--json")
full = json.loads(p.stdout)["samples"][0]["text"] if p.returncode == 0 else ""
check(len(full) >= 4, "chat prompt generates text", f"{cmd}\n    {p.stdout}{p.stderr}")
if len(full) >= 4:
    stop = full[2:4]
    p, cmd = run("--prompt", "Hello world", "--chat", "--max-new-tokens", "12", "--json", "--stop", stop)
    s = json.loads(p.stdout)["samples"][0] if p.returncode == 0 else {}
    want = full[: full.find(stop)]
    check(s.get("text") == want and s.get("finish_reason") == "stop",
          f"--stop {stop!r}: text {want!r}, finish 'stop'", f"{cmd}\n    {p.stdout}{p.stderr}")
    p, cmd = run("--prompt", "Hello world", "--chat", "--max-new-tokens", "12", "--stop", stop)
    check(p.returncode == 0 and p.stdout == want + "\n", "streamed text stops before the stop string",
          f"{cmd}\n    {p.stdout!r}")

# --logprobs N: N alternatives per generated token, the chosen one's log-probability <= 0.
p, cmd = run("--prompt", "Hello", "--max-new-tokens", "5", "--json", "--logprobs", "3")
s = json.loads(p.stdout)["samples"][0] if p.returncode == 0 else {}
lps = s.get("logprobs", [])
check(len(lps) == len(s.get("tokens", [])) == 5 and all(len(t["top"]) == 3 and t["logprob"] <= 0 for t in lps),
      "--logprobs 3: 3 alternatives per token", f"{cmd}\n    {p.stdout}{p.stderr}")

# Prompt from stdin.
p, cmd = run("--prompt-file", "-", "--max-new-tokens", "3", "--json", stdin="Hello world")
check(p.returncode == 0 and json.loads(p.stdout)["prompt_tokens"] == 9, "--prompt-file - reads stdin",
      f"{cmd}\n    {p.stdout}{p.stderr}")

# A prompt longer than the context (512) is a clear error, not a truncation.
p, cmd = run("--prompt-ids", ",".join(["5"] * 600), "--max-new-tokens", "4")
check(p.returncode != 0 and "context" in p.stderr, "a 600-token prompt on a 512-token model is refused",
      f"{cmd[:200]}...\n    rc={p.returncode} {p.stderr}")
# So is asking for more new tokens than the context leaves.
p, cmd = run("--prompt-ids", PROMPT0, "--max-new-tokens", "600")
check(p.returncode != 0 and "context" in p.stderr, "--max-new-tokens past the context is refused",
      f"rc={p.returncode} {p.stderr}")
# Bad flags: text without a tokenizer, two prompts, a trailing comma.
for args, what in [(["--model", "testdata/llama3", "--prompt", "hi"], "text prompt without tokenizer.json"),
                   (["--prompt", "hi", "--prompt-ids", "1"], "two prompts"),
                   (["--prompt-ids", "1,2,"], "trailing comma in --prompt-ids")]:
    cmd = [PAGEDKV, "generate", *(MODEL if args[0] != "--model" else []), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    check(p.returncode != 0 and p.stderr.startswith("pagedkv:"), f"clear error: {what}", f"{cmd}: {p.stderr}")

# pagedkv chat: two turns on stdin; the second reuses the first turn's blocks from the prefix cache.
cmd = [PAGEDKV, "chat", *MODEL, "--max-new-tokens", "8"]
p = subprocess.run(cmd, input="Hello there\nTell me more\n\n", capture_output=True, text=True, timeout=120)
import re
reused = [int(m) for m in re.findall(r"(\d+) of \d+ prompt tokens reused", p.stderr)]
check(p.returncode == 0 and len(reused) == 2 and reused[0] == 0 and reused[1] > 0,
      "chat: two turns, the second reuses cached prompt tokens", f"{cmd}\n    {p.stderr}")

for f in failures:
    print("FAIL:", f)
print(f"cli_text_test: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
