"""Which strings of an AppTest page Streamlit renders as markdown, and whether hostile user text
reaches one of them unescaped. Streamlit never renders raw HTML from markdown (no
unsafe_allow_html anywhere), but `**x**`, `:red[x]`, `$x$` and links would be interpreted:
dashboard.formatting.escape_markdown must have been applied to every piece of user text."""
from __future__ import annotations

from collections.abc import Iterator

from streamlit.testing.v1 import AppTest

from tests.security.conftest import HOSTILE

# proto fields that hold values, ids or plain text, never markdown
PLAIN_FIELDS = {
    "id", "default", "value", "placeholder", "page_script_hash", "query_string", "page", "form_id", "format",
    "min", "max", "type", "icon", "columns", "tag", "url", "spec", "theme", "data", "autocomplete", "key",
    "mime", "file_name", "text_alignment", "width_config", "step",
}
# elements whose text is shown as it is (st.text, st.code, tables, charts, images, plain options)
PLAIN_ELEMENTS = {"text", "code", "json", "dataframe", "arrow_data_frame", "plotly_chart", "imgs", "image",
                  "selectbox", "multiselect", "audio", "video", "arrow_vega_lite_chart"}


def _walk(node) -> Iterator:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def markdown_strings(at: AppTest) -> list[tuple[str, str, str]]:
    """(element type, field, text) of every string Streamlit may render as markdown."""
    found = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is None or kind in PLAIN_ELEMENTS or not hasattr(proto, "ListFields"):
            continue
        for field, value in proto.ListFields():
            if field.name in PLAIN_FIELDS:
                continue
            if isinstance(value, str):
                found.append((kind, field.name, value))
            elif isinstance(value, (list, tuple)) or type(value).__name__.startswith("Repeated"):
                if not (len(value) and isinstance(value[0], str)):
                    continue
                found.extend((kind, field.name, v) for v in value)  # e.g. radio options (markdown)
    return found


def unescaped_user_text(at: AppTest, hostile=HOSTILE) -> list[tuple[str, str, str]]:
    """The markdown strings of the page that carry a hostile fragment as it was typed."""
    return [(kind, field, text) for kind, field, text in markdown_strings(at)
            if any(fragment in text for fragment in hostile)]


def plain_strings(at: AppTest) -> str:
    """Everything the page holds as plain text (inputs, st.text, tables as arrow bytes decoded)."""
    parts = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "ListFields"):
            continue
        for _field, value in proto.ListFields():
            if isinstance(value, str):
                parts.append(value)
            elif isinstance(value, bytes):
                parts.append(value.decode("utf-8", "replace"))
            elif hasattr(value, "ListFields"):  # nested messages (dataframe data)
                for _f, inner in value.ListFields():
                    if isinstance(inner, bytes):
                        parts.append(inner.decode("utf-8", "replace"))
    return "\n".join(parts)
