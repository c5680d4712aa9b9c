"""The standard-library corpus: what it holds and that it is read byte-exactly."""

from tools.corpus import STDLIB, stdlib_documents, stdlib_files, stdlib_text


def test_corpus_contents():
    files = stdlib_files()
    names = {p.relative_to(STDLIB).as_posix() for p in files}
    assert "pydoc_data/topics.py" in names and "os.py" in names and "test/test_grammar.py" in names
    assert not any(n.startswith("site-packages/") for n in names)
    assert "test/encoded_modules/module_koi8_r.py" not in names  # one of the 4 non-UTF-8 files
    assert 1500 < len(files) < 2500
    assert list(files) == sorted(files)


def test_texts_are_exact_bytes():
    name, text = next(iter(stdlib_documents()))
    assert text.encode("utf-8") == (STDLIB / name).read_bytes()  # no newline translation
    head = stdlib_text(limit=1000)
    assert len(head) == 1000 and head == text[:1000]
