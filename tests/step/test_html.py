"""An executed notebook as a standalone page: sanitized, inert, offline (step/html.py)."""

from __future__ import annotations

import json
import re

from conftest import notebook_json

from liminal_jupyter.step.html import render_html, split_page, write_html

# A reference the browser would fetch: src/href/url()/@import/import() of an http(s) URL.
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*https?:|url\(\s*["']?\s*https?:"""
                    r"""|@import|import\(""", re.IGNORECASE)
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJ"
       "RU5ErkJggg==")


def _executed(outputs: list[dict], markdown: str = "# Results") -> dict:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": markdown},
        {"cell_type": "code", "metadata": {}, "execution_count": 1,
         "source": "show()  # </div><script>alert('source')</script>", "outputs": outputs},
    ]
    return notebook_json(cells)


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": data}


def test_script_in_outputs_and_markdown_does_not_survive():
    page = render_html(_executed([
        {"output_type": "stream", "name": "stdout", "text": "<script>alert('stream')</script>\n"},
        _display({"text/html": "<b>ok</b><script>alert('html')</script>"
                               "<img src=x onerror=\"alert('img')\">", "text/plain": "x"}),
        _display({"application/javascript": "alert('js')", "text/plain": "js"}),
        _display({"text/markdown": "*fine*\n\n<script>alert('md-out')</script>"}),
    ], markdown="# Results <script>alert('md')</script>"))

    assert re.search(r"<script", page, re.IGNORECASE) is None
    assert re.search(r"<img[^>]*onerror", page, re.IGNORECASE) is None
    assert "alert('js')" not in page
    # What is safe still reads as a document.
    assert "<b>ok</b>" in page and "<h1>Results" in page and "<em>fine</em>" in page


def test_page_is_standalone_offline_and_forbids_scripts():
    page = render_html(_executed([_display({"image/png": PNG, "text/plain": "fig"}),
                                  _display({"text/html": "<table><tr><th>a</th></tr>"
                                                         "<tr><td>1</td></tr></table>"})]))

    assert REMOTE.search(page) is None, REMOTE.search(page)
    assert f'src="data:image/png;base64,{PNG}"' in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<th>a</th>" in page  # a DataFrame's table is kept


def test_traceback_of_an_error_output_is_shown(tmp_path):
    nb = _executed([{"output_type": "error", "ename": "ZeroDivisionError",
                     "evalue": "division by zero",
                     "traceback": ["\x1b[31mZeroDivisionError\x1b[0m: division by zero"]}])
    path = tmp_path / "executed.ipynb"
    path.write_text(json.dumps(nb))

    out = write_html(path)

    assert out == tmp_path / "executed.html"
    text = out.read_text()
    assert "ZeroDivisionError" in text and "division by zero" in text
    styles, body = split_page(text)
    assert "division by zero" in body and "<style" in styles and "<style" not in body
