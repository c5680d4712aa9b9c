"""The doc-test machinery itself: a wrong printed value in a page must fail."""

import sys
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


def answer_page(shown: str, info: str = "output") -> str:
    """A page that prints 42 and shows ``shown`` as its output, in a fence with info string ``info``."""
    return f"""
```python
print(6 * 7)
```

```{info}
{shown}
```
"""


def test_matching_output_passes(tmp_path):
    run_page(answer_page("42"), tmp_path)


def test_wrong_output_fails(tmp_path):
    with pytest.raises(AssertionError, match=r"-41\n\+42"):
        run_page(answer_page("41"), tmp_path)


def test_output_titled_with_this_python_is_checked(tmp_path):
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    run_page(answer_page("42", f'output title="Printed by Python {this}"'), tmp_path)
    with pytest.raises(AssertionError, match=r"-41\n\+42"):
        run_page(answer_page("41", f'output title="Printed by Python {this}"'), tmp_path)


def test_output_titled_with_another_python_is_skipped_with_the_reason(tmp_path):
    with pytest.raises(pytest.skip.Exception, match=r"shows what Python 3\.2 prints.*ran without error"):
        run_page(answer_page("41", 'output title="Printed by Python 3.2"'), tmp_path)


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
