"""llama.cpp compiled to WebAssembly (@wllama/wllama, one thread) on SmolLM2's GGUF in headless Chromium.

    .venv/bin/python -m tools.bench_wllama [--record] [--package DIR]

The anchor for examples/bench_browser.py: the same model file and the same prompt token ids as the
book's browser engine, with the same three numbers:
- prefill of 32 tokens: seconds to evaluate a 32-token prompt (best of 3, nothing cached between);
- decode at 32 and at 512 positions: after a prompt of that length, 16 further greedy single-token
  steps, tokens/s = 16 / their time (best of 3).

wllama is not a dependency of the build (package.json stays as it is) and the build never installs it:
it replays the newest record this tool saves with ``--record`` (examples/records/bench_wllama/). To
measure, install it beside the build's packages without saving it:

    npm install --no-save @wllama/wllama@3.13.0

How the numbers are taken. wllama 3.13 has no low-level eval API (its "low level API" section is a
TODO): a completion runs llama.cpp's server loop inside the worker, one loop step per result poll. It
takes text only (a prompt of token ids is refused: "type must be string, but is array"), so the prompt
is the text of the book's ids (decoded with the book's tokenizer, which re-encodes it to the very same
ids; llama.cpp's prompt_n must equal the length, or the run fails), with ``cache_prompt: false``,
greedy sampling (temperature 0, top_k 1), ``ignore_eos`` and 17 tokens to predict, so the 16 steps
after the first token each decode one token. The times are llama.cpp's own
``timings``: prompt_ms is the prefill (up to and including sampling the first token); predicted_ms
runs from the first sampled token to the 17th, i.e. 16 decode steps, so the rate is
(predicted_n - 1) / predicted_ms, which is also what this llama.cpp reports as predicted_per_second.
The page's own clock (performance.now() at each streamed token) is kept beside them as a check.

One thread, offline: the page is served without cross-origin isolation (no SharedArrayBuffer), the
model is loaded with ``n_threads: 1`` and ``n_gpu_layers: 0`` (no WebGPU), and the tool checks that
wllama reports a single-thread module (isMultithread() false, one thread, the worker's pthread pool 0).
wllama 3.13 ships one wasm (esm/wasm/wllama.wasm) that runs with or without pthreads; its config points
at the copy served here, and its compatibility mode (a worker and wasm from a CDN, used when the
browser lacks JSPI or Memory64) is switched off with ``setCompat(null)``. Every request any page of the
browser context makes is logged, and the run fails if one went anywhere but the local server.

The record also keeps what explains the speed: the file's tensor types (its layers are Q4_1, for which
llama.cpp's WebAssembly build has no SIMD dot product) and whether the wasm's memory is 64-bit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@wllama" / "wllama"
VERSION = "3.13.0"
INSTALL = f"npm install --no-save @wllama/wllama@{VERSION}"
MODEL = "smollm2-135m-instruct"
PREFILL, POSITIONS, STEPS, REPEATS = 32, (32, 512), 16, 3
N_CTX = 1024
PROMPT_IDS_SOURCE = ("the book's GGUFTokenizer (llmbook.tokenizer.gguf_tokenizer, from the GGUF's metadata) on "
                     "pydoc_topics_text()[:8n], first n ids; wllama's completion takes text only, so it is given "
                     "the decoded text of those ids (re-encoded by the book's tokenizer to the same ids; "
                     "llama.cpp's prompt_n checked equal to n)")

PAGE = """<!doctype html><meta charset="utf-8"><title>wllama benchmark</title>
<p>wllama benchmark</p>"""

# Load wllama's module and the model (as one Blob, so wllama's download cache is not involved).
LOAD = """async ({ nCtx }) => {
  const { Wllama } = await import("/wllama/esm/index.js");
  const logs = [];
  const text = (a) => {
    if (typeof a === "string") return a;
    try { return JSON.stringify(a); } catch (e) { return String(a); }
  };
  const keep = (level) => (...args) => logs.push(level + ": " + args.map(text).join(" "));
  const logger = { debug: keep("debug"), log: keep("log"), warn: keep("warn"), error: keep("error") };
  const wllama = new Wllama({ default: "/wllama/esm/wasm/wllama.wasm" }, { logger });
  wllama.setCompat(null);  // never the compatibility worker and wasm from a CDN
  const blob = await (await fetch("/model.gguf")).blob();
  const t0 = performance.now();
  await wllama.loadModel([blob], { n_threads: 1, n_gpu_layers: 0, n_ctx: nCtx, n_parallel: 1, seed: 0 });
  const loadS = (performance.now() - t0) / 1e3;
  const info = wllama.getLoadedContextInfo();
  for (const key of ["metadata", "metadata_key", "metadata_val", "media_marker"]) delete info[key];
  window.WL = wllama;
  window.WL_LOGS = logs;
  return {
    load_s: loadS, model_bytes: blob.size,
    multithread: wllama.isMultithread(), threads: wllama.getNumThreads(),
    libllama: Wllama.getLibllamaVersion(), context: info,
    cross_origin_isolated: self.crossOriginIsolated, shared_array_buffer: typeof SharedArrayBuffer !== "undefined",
    jspi: !!WebAssembly.Suspending, hardware_concurrency: navigator.hardwareConcurrency,
  };
}"""

# One completion: the prompt's text, then steps + 1 greedy tokens, streamed; llama.cpp's timings and the
# page's clock at each streamed chunk that carries text.
MEASURE = """async ({ prompt, steps }) => {
  const chunks = [];
  let timings = null, usage = null, text = "";
  const t0 = performance.now();
  await WL.createCompletion({
    prompt, max_tokens: steps + 1, temperature: 0, top_k: 1, ignore_eos: true, cache_prompt: false,
    stream: true,
    onData: (chunk) => {
      const t = performance.now() - t0;
      const piece = chunk.choices && chunk.choices[0] ? chunk.choices[0].text : "";
      if (piece) { chunks.push(t / 1e3); text += piece; }
      if (chunk.timings) timings = chunk.timings;
      if (chunk.usage) usage = chunk.usage;
    },
  });
  return { timings, usage, text, chunk_s: chunks, total_s: (performance.now() - t0) / 1e3 };
}"""


def find_package(folder: Path) -> dict[str, Any]:
    """wllama's package.json in ``folder`` (with the files the page needs), or exit with how to install it."""
    needed = [folder / "package.json", folder / "esm" / "index.js", folder / "esm" / "wasm" / "wllama.wasm"]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise SystemExit(f"wllama is not installed ({missing[0]} is missing): run `{INSTALL}` at the repository "
                         "root (not a dependency of the build, so package.json and package-lock.json stay as they are)")
    meta = json.loads(needed[0].read_text())
    if meta.get("name") != "@wllama/wllama" or meta.get("version") != VERSION:
        raise SystemExit(f"{folder} holds {meta.get('name')}@{meta.get('version')}, not @wllama/wllama@{VERSION}: "
                         f"run `{INSTALL}` at the repository root")
    return meta


def prompts(model_file: Path) -> tuple[dict[int, str], dict[str, int]]:
    """For each prompt length (PREFILL and POSITIONS): the text of the book's prompt ids; and the file's tensor types.

    The ids are taken as examples/bench_browser.py takes them; their text must re-encode to the same ids.
    """
    from llmbook.models.gguf import read_gguf
    from llmbook.models.quant import GGMLType
    from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer
    from llmbook.training.data import pydoc_topics_text

    gguf = read_gguf(model_file)
    types: dict[str, int] = {}
    for info in gguf.tensors.values():
        name = GGMLType(info.type).name
        types[name] = types.get(name, 0) + 1
    tok = GGUFTokenizer.from_gguf(gguf.metadata)
    text = pydoc_topics_text()
    out = {}
    for n in sorted({PREFILL, *POSITIONS}):
        ids = tok.encode(text[: 8 * n])
        if len(ids) < n:
            raise SystemExit(f"the prompt text gave {len(ids)} token ids, fewer than the {n} needed")
        out[n] = tok.decode(ids[:n])
        if tok.encode(out[n]) != ids[:n]:
            raise SystemExit(f"the text of the first {n} prompt ids does not encode back to those ids")
    return out, types


def _leb128(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def wasm_memory(path: Path) -> dict[str, bool]:
    """The linear memory a wasm module imports or declares: Memory64 (64-bit addresses) and shared or not."""
    data = path.read_bytes()
    if data[:4] != b"\0asm":
        raise SystemExit(f"{path} is not a WebAssembly module")
    i = 8
    while i < len(data):
        section, (size, body) = data[i], _leb128(data, i + 1)
        if section == 2:  # imports: module, name, kind, description
            count, k = _leb128(data, body)
            for _ in range(count):
                for _ in range(2):
                    length, k = _leb128(data, k)
                    k += length
                kind, k = data[k], k + 1
                if kind == 2:
                    return {"memory64": bool(data[k] & 4), "shared": bool(data[k] & 2), "imported": True}
                if kind == 0:  # function: a type index
                    _, k = _leb128(data, k)
                elif kind == 1:  # table: element type, limits
                    flags, k = data[k + 1], k + 2
                    _, k = _leb128(data, k)
                    if flags & 1:
                        _, k = _leb128(data, k)
                elif kind == 3:  # global: value type, mutability
                    k += 2
                elif kind == 4:  # tag: attribute, type index
                    _, k = _leb128(data, k + 1)
                else:
                    raise SystemExit(f"{path}: import of unknown kind {kind}")
        elif section == 5:  # a memory of its own
            _, k = _leb128(data, body)
            return {"memory64": bool(data[k] & 4), "shared": bool(data[k] & 2), "imported": False}
        i = body + size
    raise SystemExit(f"{path} has no linear memory")


def check_run(run: dict[str, Any], n: int) -> None:
    """A completion must have evaluated all n prompt tokens (nothing cached) and generated STEPS + 1 tokens."""
    t = run["timings"]
    if not t:
        raise SystemExit("wllama returned no timings from llama.cpp")
    if t["prompt_n"] != n or t.get("cache_n", 0) != 0:
        raise SystemExit(f"llama.cpp evaluated {t['prompt_n']} prompt tokens ({t.get('cache_n')} from its cache), "
                         f"not the {n} of the prompt")
    if t["predicted_n"] != STEPS + 1:
        raise SystemExit(f"llama.cpp generated {t['predicted_n']} tokens, not {STEPS + 1}")


def measure(package: Path) -> dict[str, Any]:
    from llmbook.models.registry import model_path
    from tools.browser import chromium, serve

    meta = find_package(package)
    model_file = model_path(MODEL)
    texts, weight_types = prompts(model_file)
    memory = wasm_memory(package / "esm" / "wasm" / "wllama.wasm")
    routes: dict[str, str | Path] = {"/": PAGE, "/model.gguf": model_file, "/wllama/esm/": package / "esm"}
    load_before = os.getloadavg()
    with serve(routes) as url, chromium() as browser:
        context = browser.new_context()
        requests: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        page.goto(url + "/")
        loaded = page.evaluate(LOAD, {"nCtx": N_CTX})
        runs: dict[str, list[dict[str, Any]]] = {}
        for n in POSITIONS:
            runs[str(n)] = []
            for _ in range(REPEATS):
                run = page.evaluate(MEASURE, {"prompt": texts[n], "steps": STEPS})
                check_run(run, n)
                runs[str(n)].append(run)
        logs = page.evaluate("window.WL_LOGS")
        version = browser.version
        context.close()

    if loaded["model_bytes"] != model_file.stat().st_size:
        raise SystemExit(f"the page loaded {loaded['model_bytes']} bytes of model, not {model_file.stat().st_size}")
    local = (url + "/", f"blob:{url}/", "data:")
    offsite = [u for u in requests if not u.startswith(local)]
    if offsite:
        raise SystemExit(f"the page made requests off 127.0.0.1: {offsite[:5]}")
    for needed in ("/wllama/esm/wasm/wllama.wasm", "/model.gguf"):
        if url + needed not in requests:  # the log must see the worker's fetch too, or it proves nothing
            raise SystemExit(f"the request log missed {needed}: it cannot vouch that nothing went off 127.0.0.1")
    pool = [line for line in logs if "pthreadPoolSize" in line]
    if loaded["multithread"] or loaded["threads"] != 1 or loaded["shared_array_buffer"] \
            or not any("pthreadPoolSize: 0" in line for line in pool):
        raise SystemExit(f"wllama did not run single-threaded: multithread={loaded['multithread']}, "
                         f"threads={loaded['threads']}, SharedArrayBuffer={loaded['shared_array_buffer']}, {pool}")
    compat = [line for line in logs if "ompat" in line]
    if any("activated" in line for line in compat):
        raise SystemExit(f"wllama switched to its compatibility mode: {compat}")

    prefill = [r["timings"]["prompt_ms"] / 1e3 for r in runs[str(PREFILL)]]
    decode = {n: [(r["timings"]["predicted_n"] - 1) / (r["timings"]["predicted_ms"] / 1e3) for r in rs]
              for n, rs in runs.items()}
    # the page's clock: the first streamed token ends the prefill; the next STEPS tokens are the decode steps
    page_prefill = [r["chunk_s"][0] for r in runs[str(PREFILL)] if r["chunk_s"]]
    page_decode = {n: [STEPS / (r["chunk_s"][STEPS] - r["chunk_s"][0]) for r in rs if len(r["chunk_s"]) > STEPS]
                   for n, rs in runs.items()}
    kept = ("pthreadPoolSize", 'Loading "wllama.wasm"', "ggml_webgpu", "async file read", "ompat",
            "CPU model buffer", "flash_attn ", "n_ubatch ")
    return {
        "wllama_version": meta["version"],
        "libllama": loaded["libllama"],
        "build": (f"single-thread: isMultithread() {str(loaded['multithread']).lower()}, getNumThreads() "
                  f"{loaded['threads']}, worker: {pool[0].split(': ', 1)[-1] if pool else '?'}; "
                  "esm/wasm/wllama.wasm served locally, compat mode off, CPU only (n_gpu_layers 0)"),
        "threads": loaded["threads"],
        "chromium": version,
        "file": model_file.name,
        "bytes": model_file.stat().st_size,
        "prompt_ids_source": PROMPT_IDS_SOURCE,
        "tensor_types": weight_types,
        "wasm_memory": memory,
        "note": (f"the file's tensor types are {weight_types}; llama.cpp's ggml-cpu/arch-fallback.h maps, for "
                 "__wasm__, ggml_vec_dot_q4_1_q8_1 to its generic (scalar C) version, so the Q4_1 layer matmuls run "
                 "without SIMD; the wasm's linear memory is "
                 f"{'64-bit (Memory64)' if memory['memory64'] else '32-bit'}"
                 f"{', shared' if memory['shared'] else ''}"),
        "api": ("createCompletion (text prompt), stream; times are llama.cpp's timings: prefill = prompt_ms, "
                "decode tok/s = (predicted_n - 1) / predicted_ms with predicted_n = steps + 1"),
        "sampling": {"temperature": 0, "top_k": 1, "ignore_eos": True, "cache_prompt": False,
                     "max_tokens": STEPS + 1},
        "steps": STEPS, "repeats": REPEATS, "prefill_tokens": PREFILL, "positions": list(POSITIONS),
        "prefill_32_s": min(prefill),
        "decode_tok_s": {n: max(v) for n, v in decode.items()},
        "page_clock": {"prefill_32_s": min(page_prefill) if page_prefill else None,
                       "decode_tok_s": {n: max(v) if v else None for n, v in page_decode.items()}},
        "raw": {"prefill_32_s": prefill, "decode_tok_s": decode,
                "timings": {n: [r["timings"] for r in rs] for n, rs in runs.items()},
                "page_chunk_s": {n: [r["chunk_s"] for r in rs] for n, rs in runs.items()},
                "text": {n: rs[-1]["text"] for n, rs in runs.items()}},
        "loadavg": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()],
                    "cpus": os.cpu_count()},
        "load": {"seconds": loaded["load_s"], "context": loaded["context"], "jspi": loaded["jspi"],
                 "cross_origin_isolated": loaded["cross_origin_isolated"],
                 "shared_array_buffer": loaded["shared_array_buffer"],
                 "hardware_concurrency": loaded["hardware_concurrency"]},
        "log": [line.replace(url, "") for line in logs if any(k in line for k in kept)],
        # what the page fetched: paths on the local server, and "blob:" for the worker wllama builds in memory
        "requests": sorted({"blob:" if u.startswith("blob:") else "data:" if u.startswith("data:")
                            else u.removeprefix(url) for u in requests}),
    }


def check_results(results: dict[str, Any]) -> None:
    """Raise ValueError naming what is missing or not sane in a record's ``results``."""
    kinds = {"wllama_version": str, "build": str, "threads": int, "chromium": str, "file": str, "bytes": int,
             "prompt_ids_source": str, "prefill_32_s": float, "decode_tok_s": dict, "repeats": int, "raw": dict}
    for key, kind in kinds.items():
        if key not in results:
            raise ValueError(f"the record has no {key!r}")
        if not isinstance(results[key], kind) or isinstance(results[key], bool):
            raise ValueError(f"the record's {key!r} is {results[key]!r}, not a {kind.__name__}")
    if results["threads"] != 1 or "single-thread" not in results["build"]:
        raise ValueError(f"not a single-thread run: threads {results['threads']}, build {results['build']!r}")
    if results["wllama_version"] != VERSION or not results["file"].endswith(".gguf") or results["bytes"] <= 0:
        raise ValueError(f"wllama {results['wllama_version']}, file {results['file']!r} of {results['bytes']} bytes")
    if results["repeats"] < 1 or not 0 < results["prefill_32_s"] < 600:
        raise ValueError(f"{results['repeats']} repeats, prefill of 32 tokens {results['prefill_32_s']} s")
    raw = results["raw"]
    if raw.get("prefill_32_s") is None or len(raw["prefill_32_s"]) != results["repeats"] \
            or min(raw["prefill_32_s"]) != results["prefill_32_s"]:
        raise ValueError("the prefill is not the best of its raw timings")
    for n in map(str, POSITIONS):
        rate = results["decode_tok_s"].get(n)
        if not isinstance(rate, float) or not 0 < rate < 1e4:
            raise ValueError(f"decode at {n} positions: {rate!r} tokens/s")
        runs = raw.get("decode_tok_s", {}).get(n)
        if not runs or len(runs) != results["repeats"] or max(runs) != rate:
            raise ValueError(f"decode at {n} positions is not the best of its raw rates")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", action="store_true", help="save the numbers under examples/records/bench_wllama/")
    ap.add_argument("--package", type=Path, default=PACKAGE, help="wllama's package folder (default: %(default)s)")
    args = ap.parse_args(argv)
    find_package(args.package)  # before anything heavy: a missing package is one line
    results = measure(args.package)
    check_results(results)
    print(f"wllama {results['wllama_version']} (llama.cpp {results['libllama']}), {results['build']}")
    print(f"Chromium {results['chromium']}, {results['file']} ({results['bytes']:,} bytes)")
    print(f"prefill of {PREFILL} tokens: {results['prefill_32_s']:.3f} s (runs: "
          + ", ".join(f"{s:.3f}" for s in results["raw"]["prefill_32_s"]) + ")")
    for n, rate in results["decode_tok_s"].items():
        print(f"decode at {n} positions: {rate:.1f} tokens/s (runs: "
              + ", ".join(f"{r:.1f}" for r in results["raw"]["decode_tok_s"][n]) + f"; page clock "
              f"{results['page_clock']['decode_tok_s'][n] or float('nan'):.1f})")
    la = results["loadavg"]
    print(f"load average (1, 5, 15 min) before {la['before']}, after {la['after']}, on {la['cpus']} CPUs")
    if args.record:
        from tools.bench import save_record

        print(f"saved {save_record('bench_wllama', results, 'cpu')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
