"""Reading the rendered report pages in tests: the text of table rows tagged with a data attribute."""

from __future__ import annotations

from html.parser import HTMLParser


class _Rows(HTMLParser):
    def __init__(self, attribute: str) -> None:
        super().__init__()
        self.attribute = attribute
        self.rows: dict[str, list[str]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        key = dict(attrs).get(self.attribute)
        if tag == "tr" and key:
            self.current = key
            self.rows.setdefault(key, [])
        elif tag == "td" and self.current is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.current is not None and self.cell is not None:
            self.rows[self.current].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def rows_by(html: str, attribute: str) -> dict[str, list[str]]:
    """Each ``<tr attribute="key">``'s cells as text, by key (rows sharing a key are joined in order)."""
    parser = _Rows(attribute)
    parser.feed(html)
    return parser.rows
