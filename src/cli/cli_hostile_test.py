#!/usr/bin/env python3
"""Hostile checkpoints and requests through the `pagedkv` command (issue 20), run by CTest.

Every case must end with a clear message naming the field or flag and a non-zero exit: no signal
(std::terminate, SIGFPE, a stack overflow), no hang. Outside the sanitizer build each run also
happens under an address-space limit (RLIMIT_AS, `ulimit -v`, of 1 GiB) and must peak below
200 MB of resident memory: config and request limits are checked before memory is committed, so
a tiny hostile input never gets near the limit, and an honest request for more than the limit is
refused by the size check naming the KV pool, not by the OOM killer or bad_alloc.

    python3 src/cli/cli_hostile_test.py build/pagedkv [--sanitized]
"""
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

PAGEDKV = os.path.abspath(sys.argv[1])
SANITIZED = "--sanitized" in sys.argv
LIMIT_AS = 1 << 30      # ulimit -v: 1 GiB
PEAK_RSS = 200 << 20    # inputs under 1 MB stay under 200 MB
TIMEOUT = 60
failures = []
ENV = dict(os.environ, PAGEDKV_NUM_THREADS="2", MALLOC_ARENA_MAX="2")


def limit():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


def run(args):
    """Runs pagedkv; returns (exit status or -signal, stderr, peak RSS in bytes, seconds)."""
    t0 = time.time()
    p = subprocess.Popen([PAGEDKV, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=ENV, text=True,
                         preexec_fn=None if SANITIZED else limit)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, err + "\n(timed out)", 0, time.time() - t0
    # The child's own peak RSS (ru_maxrss is in KiB on Linux), read as it is reaped.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return p.returncode, err, usage, time.time() - t0


peak_before = 0


def refused(args, names, what):
    """The run must fail cleanly: exit > 0, `names` in its message, bounded memory."""
    global peak_before
    rc, err, peak, secs = run(args)
    cmd = "pagedkv " + " ".join(a if len(a) < 80 else a[:60] + "..." for a in args)
    if rc is None or rc <= 0:
        failures.append(f"{what}: exit {rc} (a signal or success), want a clean error\n    {cmd}\n    {err[-500:]}")
    elif names not in err:
        failures.append(f"{what}: the message does not name {names!r}\n    {cmd}\n    {err[-500:]}")
    elif "terminate called" in err or "runtime error" in err or "AddressSanitizer" in err:
        failures.append(f"{what}: abnormal end\n    {cmd}\n    {err[-500:]}")
    # RUSAGE_CHILDREN is a high-water mark over every child so far: it rises only if this run
    # went higher than all before it.
    if not SANITIZED and peak > PEAK_RSS and peak > peak_before:
        failures.append(f"{what}: peak RSS {peak >> 20} MB >= {PEAK_RSS >> 20} MB\n    {cmd}")
    peak_before = max(peak_before, peak)
    print(f"ok   {what}: exit {rc}, {secs:.1f} s: {err.strip().splitlines()[0] if err.strip() else ''}"[:200]
          if not failures or not failures[-1].startswith(what) else f"FAIL {what}")


work = tempfile.mkdtemp(prefix="pagedkv_cli_hostile_")


def checkpoint(name, family="qwen3", patch=None, config_text=None, link_weights=True):
    """A copy of testdata/<family> with its config patched (or replaced by config_text)."""
    d = os.path.join(work, name)
    os.makedirs(d)
    src = os.path.join("testdata", family)
    if link_weights:
        os.symlink(os.path.abspath(os.path.join(src, "model.safetensors")), os.path.join(d, "model.safetensors"))
    if config_text is None:
        with open(os.path.join(src, "config.json")) as f:
            j = json.load(f)
        j.update(patch or {})
        config_text = json.dumps(j)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(config_text)
    return d


def gen(model, *extra):
    return ["generate", "--model", model, "--prompt-ids", "1,2,3", *extra]


try:
    # --- Flags: ranges checked when parsed, named in the message.
    q = "testdata/qwen3"
    refused(["demo", "--system-prompt", "-1"], "--system-prompt", "demo --system-prompt -1")
    refused(gen(q, "--top-k", "-5"), "--top-k", "--top-k -5")
    refused(gen(q, "--seed", "-1"), "--seed", "--seed -1")
    refused(gen(q, "--temperature", "-1"), "--temperature", "--temperature -1")
    refused(["generate", "--model", q, "--prompt-ids", "1,2,"], "--prompt-ids", "trailing comma in --prompt-ids")
    refused(gen(q, "--stop-ids", "5,"), "--stop-ids", "trailing comma in --stop-ids")
    refused(gen(q, "--batch-invariant", "--kernel", "fused"), "--batch-invariant",
            "--batch-invariant with the fused decode kernel (its split follows the batch)")
    refused(["batch-generate", "--model", q, "--prompt-ids", "1,2,"], "--prompt-ids",
            "batch-generate: trailing comma in --prompt-ids")
    refused(gen(q, "-n", "1000000"), "-n", "-n 1000000 (capped like the other limits)")
    refused(["batch-generate", "--model", q, "--prompt-ids", "1,2", "-n", "2000", "--max-seqs", "1",
             "--batch-tokens", "1"], "-n", "batch-generate -n 2000")
    refused(["batch-generate", "--model", q, "--prompt-ids", "1,2", "-n", "4", "--max-seqs", "2",
             "--batch-tokens", "2"], "max_num_seqs", "forked samples beyond --max-seqs")
    refused(gen(q, "--num-blocks", "2147483647"), "KV pool", "--num-blocks 2147483647")
    refused(gen(q, "--device", "gpu"), "device", "generate --device gpu (not a device)")
    refused(["demo", "--device", "gpu"], "device", "demo --device gpu (not a device)")
    # --device cuda on a machine without an NVIDIA GPU (CI's): a clear error, not a crash. (On a
    # GPU machine these run; scripts/gpu_check.sh covers that side.)
    if not os.path.exists("/dev/nvidiactl"):
        refused(gen(q, "--device", "cuda"), "device cuda", "generate --device cuda without a GPU")
        refused(["demo", "--device", "cuda"], "device cuda", "demo --device cuda without a GPU")
    # generate checks the context before it sizes the pool for the request.
    ctx = checkpoint("ctx128k", patch={"max_position_embeddings": 131072})
    refused(gen(ctx, "--max-new-tokens", "5000000"), "--max-new-tokens", "--max-new-tokens past the context")
    # Within a huge context: the pool's size check refuses it before allocating.
    huge = checkpoint("ctx1g", patch={"max_position_embeddings": 1000000000})
    if not SANITIZED:
        refused(gen(huge, "--max-new-tokens", "5000000"), "KV pool", "a 5M-token pool under ulimit -v 1 GiB")

    # --- config.json values.
    refused(gen(checkpoint("arch", patch={"architectures": [5]})), "'architectures[0]' must be a string",
            "non-string architectures")
    refused(gen(checkpoint("layers10m", patch={"num_hidden_layers": 10000000})), "'num_hidden_layers'",
            "num_hidden_layers 10000000")
    refused(gen(checkpoint("layers64k", patch={"num_hidden_layers": 65536})), "num_hidden_layers is 65536",
            "more layers than the checkpoint's tensors")
    refused(gen(checkpoint("fewer", patch={"num_hidden_layers": 2})), "unused", "fewer layers than the checkpoint")
    refused(gen(checkpoint("float_layers", patch={"num_hidden_layers": 4.5})), "must be an integer", "4.5 layers")
    refused(gen(checkpoint("vocab1e30", patch={"vocab_size": 1e30})), "'vocab_size'", "vocab_size 1e30")
    refused(gen(checkpoint("overflow", patch={"num_attention_heads": 2147483647, "head_dim": 2147483647})),
            "'num_attention_heads'", "heads x head_dim overflow")
    refused(gen(checkpoint("eps", patch={"rms_norm_eps": -1e-6})), "'rms_norm_eps'", "negative rms_norm_eps")
    refused(gen(checkpoint("types", patch={"layer_types": ["full_attention", "bogus", "full_attention"]})),
            "layer_types[1]", "unknown layer_types")
    refused(gen(checkpoint("window", patch={"use_sliding_window": True, "sliding_window": 2 ** 32})),
            "'sliding_window'", "sliding_window 2^32")
    refused(gen(checkpoint("nope0", family="llama4", patch={"no_rope_layer_interval": 0, "no_rope_layers": None})),
            "'no_rope_layer_interval'", "Llama 4 no_rope_layer_interval 0 (was SIGFPE)")
    refused(gen(checkpoint("floor0", family="llama4", patch={"floor_scale": 0})), "'floor_scale'", "floor_scale 0")
    refused(gen(checkpoint("chunk", family="llama4", patch={"attention_chunk_size": 2 ** 32 + 8})),
            "'attention_chunk_size'", "attention_chunk_size >= 2^32")
    refused(gen(checkpoint("qpas", family="gemma3", patch={"query_pre_attn_scalar": 0})),
            "'query_pre_attn_scalar'", "query_pre_attn_scalar 0")
    deep = '{"architectures": ["Qwen3ForCausalLM"], "rope_scaling": ' + "[" * 100000 + "]" * 100000 + "}"
    refused(gen(checkpoint("deep_config", config_text=deep)), "nested deeper", "config.json nested 100k deep")

    # --- Files: a FIFO is refused at once; deep safetensors headers; non-finite weights.
    fifo = checkpoint("fifo", link_weights=False)
    os.mkfifo(os.path.join(fifo, "model.safetensors"))
    refused(gen(fifo), "not a regular file", "FIFO named model.safetensors")
    fifo_cfg = os.path.join(work, "fifo_config")
    os.makedirs(fifo_cfg)
    os.mkfifo(os.path.join(fifo_cfg, "config.json"))
    refused(gen(fifo_cfg), "not a regular file", "FIFO named config.json")
    for field, body in [("shape", '"shape": ' + "[" * 100000 + "2" + "]" * 100000 + ', "data_offsets": [0, 8]'),
                        ("data_offsets", '"shape": [2], "data_offsets": [0, ' + "[" * 100000 + "8" + "]" * 100000 + "]")]:
        d = checkpoint("deep_" + field, link_weights=False)
        header = ('{"a": {"dtype": "F32", ' + body + "}}").encode()
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(header)) + header + bytes(8))
        refused(gen(d), "nested deeper", f"safetensors {field} nested 100k deep")
    d = checkpoint("deep_index", link_weights=False)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write('{"weight_map": {"a": ' + "[" * 100000 + '"x"' + "]" * 100000 + "}}")
    refused(gen(d), "nested deeper", "index.json weight_map value nested 100k deep")
    for value, what in [(float("nan"), "NaN"), (float("inf"), "Inf")]:
        d = checkpoint("weights_" + what, link_weights=False)
        with open(os.path.join("testdata", "qwen3", "model.safetensors"), "rb") as f:
            blob = bytearray(f.read())
        n = struct.unpack("<Q", blob[:8])[0]
        header = json.loads(blob[8:8 + n])
        t = header["model.layers.1.mlp.up_proj.weight"]
        assert t["dtype"] == "F32"
        at = 8 + n + t["data_offsets"][0] + 4 * 17
        blob[at:at + 4] = struct.pack("<f", value)
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(blob)
        refused(gen(d), "non-finite", f"a {what} weight")
finally:
    shutil.rmtree(work, ignore_errors=True)

for f in failures:
    print("FAIL:", f)
print(f"cli_hostile_test: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
