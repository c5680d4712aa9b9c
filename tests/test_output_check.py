"""The doc-test machinery itself: a wrong printed value in a page must fail."""

import textwrap

import pytest
from sybil import Document

from tools.doctest_blocks import BookCodeParser


def run_page(text: str, tmp_path) -> None:
    path = tmp_path / "page.md"
    path.write_text(textwrap.dedent(text))
    doc = Document(path.read_text(), str(path))
    for region in BookCodeParser()(doc):
        doc.add(region)
    for example in doc:
        example.evaluate()


def test_matching_output_passes(tmp_path):
    run_page("""
        ```python
        print(6 * 7)
        ```

        ```output
        42
        ```
        """, tmp_path)


def test_wrong_output_fails(tmp_path):
    with pytest.raises(AssertionError, match=r"-41\n\+42"):
        run_page("""
            ```python
            print(6 * 7)
            ```

            ```output
            41
            ```
            """, tmp_path)


def test_output_without_code_fails(tmp_path):
    with pytest.raises(AssertionError, match="must directly follow"):
        run_page("""
            ```output
            42
            ```
            """, tmp_path)


def test_blocks_share_a_namespace_in_page_order(tmp_path):
    run_page("""
        ```python
        x = 2
        ```

        ```python
        print(x + 1)
        ```

        ```output
        3
        ```
        """, tmp_path)


def test_indented_tab_blocks_run(tmp_path):
    with pytest.raises(ZeroDivisionError):
        run_page("""
            === "PyTorch"

                ```python
                1 / 0
                ```
            """, tmp_path)
