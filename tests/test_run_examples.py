"""The example runner: content-hash caching, re-runs on change, failures named."""

from __future__ import annotations

import json
import re

import pytest

import tools.run_examples as runner

SCRIPT = """
from tools.export import write_json
from tools.by_hand import QUERY
write_json("demo/out.json", {"query": list(QUERY), "tag": TAG})
print("made demo/out.json")
"""


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    examples, generated = tmp_path / "examples", tmp_path / "generated"
    examples.mkdir()
    monkeypatch.setattr(runner, "EXAMPLES", examples)
    monkeypatch.setattr(runner, "NOTEBOOKS", examples / "notebooks")
    monkeypatch.setattr(runner, "GENERATED", generated)
    monkeypatch.setattr(runner, "CACHE", tmp_path / "cache")
    monkeypatch.setenv("LLMBOOK_GENERATED", str(generated))
    return examples, generated


def test_runs_then_caches_then_reruns_on_change(sandbox, capsys, monkeypatch):
    examples, generated = sandbox
    script = examples / "demo.py"
    script.write_text("TAG = 1\n" + SCRIPT)
    assert runner.main([]) == 0
    assert (generated / "demo/out.json").read_text() == '{"query":[1.5,-0.5,2.0],"tag":1}'
    assert "running" in capsys.readouterr().out

    assert runner.main([]) == 0
    assert "unchanged, cached" in capsys.readouterr().out

    script.write_text("TAG = 2\n" + SCRIPT)
    assert runner.main([]) == 0
    assert "running" in capsys.readouterr().out
    assert '"tag":2' in (generated / "demo/out.json").read_text()

    (generated / "demo/out.json").unlink()  # a missing output also forces a re-run
    assert runner.main([]) == 0
    assert "running" in capsys.readouterr().out


def test_an_example_may_end_with_sys_exit(sandbox):
    examples, generated = sandbox
    (examples / "a_ok.py").write_text("import sys\nfrom tools.export import write_json\n"
                                    "write_json('ok/x.json', {})\nsys.exit(0)\n")
    (examples / "b_bad.py").write_text("import sys, time\ntime.sleep(3)\nsys.exit(3)\n")  # ends after a_ok
    with pytest.raises(SystemExit, match=r"example examples/b_bad.py failed \(exit 3\)"):
        runner.main([])
    assert json.loads((runner.CACHE / "a_ok.py.json").read_text())["outputs"] == ["ok/x.json"]


def test_failing_example_is_named(sandbox, monkeypatch):
    examples, _ = sandbox
    (examples / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(SystemExit, match=r"example examples/broken.py failed"):
        runner.main([])


def test_imported_package_modules_are_in_the_hash(tmp_path):
    script = runner.EXAMPLES / "attention_exercises.py"
    base = runner.content_hash(script, ["tools/by_hand.py"])
    assert base != runner.content_hash(script, ["tools/by_hand.py", "llmbook/layers/attention.py"])
    assert base == runner.content_hash(script, ["tools/by_hand.py"])


def test_a_notebook_hash_covers_the_page_writer():
    """Catches a notebook cached before its page existed counting as fresh: the page writer is in its hash even
    when the cache entry's module list lacks it."""
    notebook = runner.NOTEBOOKS / "attention_walkthrough.py"
    assert runner.content_hash(notebook, []) == runner.content_hash(notebook, ["tools/notebook_page.py"])
    script = runner.EXAMPLES / "attention_exercises.py"
    assert runner.content_hash(script, []) != runner.content_hash(script, ["tools/notebook_page.py"])


def test_unknown_example_name(sandbox, capsys):
    assert runner.main(["no_such_example"]) == 2
    assert "no such example: no_such_example" in capsys.readouterr().err



def test_two_lanes_then_the_timed_examples_alone(sandbox, capsys, monkeypatch):
    """Untimed examples run two at a time with one thread each, the LONG one started first; bench_* ones start
    only after both ended, with every thread. Each example's cache entry lists only the files it wrote, though
    two ran at once."""
    examples, generated = sandbox
    monkeypatch.setattr(runner, "LONG", ("slow",))
    (examples / "quick.py").write_text(
        "import os\nfrom tools.export import write_json, GENERATED\n"
        "assert os.environ['OMP_NUM_THREADS'] == '1'\n"
        "write_json('quick/out.json', {'slow_done_yet': (GENERATED / 'slow/done.json').exists()})\n")
    (examples / "slow.py").write_text(
        "import os, time\nfrom tools.export import write_json\n"
        "assert os.environ['OMP_NUM_THREADS'] == '1'\n"
        "time.sleep(1.5)\nwrite_json('slow/done.json', {'ok': 1})\nprint('slow finished')\n")
    (examples / "bench_x.py").write_text(
        "import os\nfrom tools.export import write_json, GENERATED\n"
        "assert (GENERATED / 'slow/done.json').exists(), 'a benchmark started before the lanes ended'\n"
        "assert os.environ.get('OMP_NUM_THREADS') != '1', 'a benchmark ran with the lanes one thread'\n"
        "write_json('bench/x.json', {'ok': 1})\n")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert runner.main([]) == 0
    out = capsys.readouterr().out
    assert out.index("slow.py: running") < out.index("quick.py: running") < out.index("slow finished") \
        < out.index("bench_x.py: running alone")
    assert (generated / "quick/out.json").read_text() == '{"slow_done_yet":false}'  # they did overlap
    outputs = {s: json.loads((runner.CACHE / f"{s}.py.json").read_text())["outputs"] for s in ("slow", "quick", "bench_x")}
    assert outputs == {"slow": ["slow/done.json"], "quick": ["quick/out.json"],
                       "bench_x": ["bench/x.json"]}


def test_the_longest_start_first_by_the_last_runs_time(sandbox, monkeypatch):
    """Catches lanes filled in file order (a long example started last leaves one core idle at the end)."""
    examples, _ = sandbox
    monkeypatch.setattr(runner, "LONG", ("b_listed",))
    names = ("a_short", "b_listed", "c_long", "d_new")
    for n in names:
        (examples / f"{n}.py").write_text("pass\n")
    runner.CACHE.mkdir(parents=True)
    for n, secs in (("a_short", 2.0), ("c_long", 90.0)):
        runner.cache_file(examples / f"{n}.py").write_text(json.dumps({"seconds": secs}))
    order = [s.stem for s in runner.longest_first([examples / f"{n}.py" for n in names])]
    assert order == ["b_listed", "c_long", "a_short", "d_new"]


def test_a_new_record_reruns_the_example_that_reads_it(sandbox, capsys, monkeypatch, tmp_path):
    examples, generated = sandbox
    import tools.bench as bench

    records = examples / "records"
    monkeypatch.setattr(bench, "RECORDS", records)
    (examples / "reader.py").write_text(
        "import tools.bench as b\nfrom pathlib import Path\nfrom tools.export import write_json\n"
        f"b.RECORDS = Path({str(records)!r})\n"
        "r = b.latest_record('demo')\nwrite_json('reader/out.json', {'n': r['results'] if r else None})\n")
    assert runner.main([]) == 0
    assert (generated / "reader/out.json").read_text() == '{"n":null}'
    assert runner.main([]) == 0 and "unchanged, cached" in capsys.readouterr().out
    (records / "demo").mkdir(parents=True)
    (records / "demo" / "2026-01-01-x.json").write_text(
        json.dumps({"environment": {"date": "2026-01-01T00:00:00Z"}, "results": 7}))
    assert runner.main([]) == 0
    assert "reader.py: running" in capsys.readouterr().out
    assert (generated / "reader/out.json").read_text() == '{"n":7}'


def test_a_notebook_becomes_a_page_with_its_outputs_and_a_download(tmp_path, monkeypatch):
    """Catches a notebook page that loses its outputs (text or figures), its download button or its math (left
    for arithmatex as written), whose figure files are not written beside it or stale ones kept; and a notebook
    with no title."""
    import base64

    import nbformat

    import tools.export as export
    from tools.notebook_page import FIGURE_ALT, write_page

    monkeypatch.setattr(export, "GENERATED", tmp_path)
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/4iFv7QAAAABJRU5ErkJggg==")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Walk\n\nShapes are $(T, D)$."),
        nbformat.v4.new_code_cell("print(6 * 7)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="42\n"),
            nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode(),
                                                         "text/plain": "<Figure>"})]),
    ], metadata={"language_info": {"name": "python"}})  # as the kernel sets it
    stale = tmp_path / "notebooks/walk_files/walk_9_3.png"  # a figure an earlier run of the notebook drew
    stale.parent.mkdir(parents=True)
    stale.write_bytes(png)
    page = write_page(nb, "walk")
    text = page.read_text()
    assert not stale.exists()
    assert page == tmp_path / "notebooks/walk.md"
    assert text.startswith('# Walk\n\n[Download walk.ipynb](walk.ipynb){ .md-button download="walk.ipynb" }\n')
    assert "Shapes are $(T, D)$." in text and "```python\nprint(6 * 7)\n```" in text and "    42" in text
    figure = re.search(rf"!\[{FIGURE_ALT}\]\((walk_files/[^)]+\.png)\)", text)
    assert figure and (tmp_path / "notebooks" / figure[1]).read_bytes() == png
    nb.cells[0].source = "No title here."
    with pytest.raises(ValueError, match="notebook walk has no '# Title' line"):
        write_page(nb, "walk")
