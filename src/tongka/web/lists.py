"""One list component for every console list (see README.md, "Lists").

A page declares a ``ListSpec`` (its columns, which of them sort, its filters) and hands it
a ``Select`` the caller already scoped (``tongka.policy.scope_of``); the spec filters,
sorts and pages it from the query string, counts the total, and — with ``?format=csv`` —
streams the whole filtered list as CSV. Only declared filters and sort keys are read from
the query string (a column name never reaches SQL from there), and every link the page
draws (pages, sort headers, the CSV link) carries the current filters and sort.

Pages are offset pages of ``PAGE_SIZE`` rows; the CSV walks the rows by id in chunks in its
own read transaction (the request's one is committed before a streamed body is sent), so
it has no row limit and constant memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongka.edge.deps import database_of
from tongka.edge.pagination import platform_instant
from tongka.money import Money
from tongka.web.console import Console
from tongka.web.labels import label_text

PAGE_SIZE = 50
CSV_CHUNK = 500
TEXT_LIMIT = 100
BOM = "\ufeff"
# What a spreadsheet would run as a formula: such cells are exported with a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Extras = Callable[[AsyncSession, Sequence[Any]], Awaitable[dict[str, Any]]]
Apply = Callable[[Select[Any], str, Console], Select[Any]]


@dataclass(frozen=True)
class Label:
    """A code exported as its words (``label(group, value)`` in a template)."""

    group: str
    value: object


@dataclass(frozen=True)
class Column:
    """One column: its header (an ``N_`` text), the SQL column it sorts by (None: it does
    not sort), and its CSV cell (None: not exported, e.g. the actions column).

    ``csv(row, extras)`` returns a plain value: ``datetime`` (shown in the platform's zone),
    ``Money`` (yuan, the currency in its own column), ``Label`` (words), text or numbers."""

    key: str
    title: str = ""
    sort: Any = None
    csv: Callable[[Any, Mapping[str, Any]], object] | None = None
    in_page: bool = True  # False: only in the CSV (e.g. the currency beside an amount)
    platform_only: bool = False  # e.g. the merchant: a merchant's staff only see their own

    def shown_to(self, console: Console) -> bool:
        return not self.platform_only or console.signed_in.is_platform


@dataclass(frozen=True)
class Filter:
    """One filter of the filter bar, read from ``?<name>=``.

    ``kind``: ``text`` (``apply`` decides what it matches), ``hidden`` (an id a link from
    another page narrows to, e.g. ``?store_id=``; not in the bar), ``select`` (one of ``choices``,
    shown with ``label_group``'s words), ``picker`` (an object picked by name, see
    ``tongka.web.pickers``) or ``date_range`` (``<name>_from`` / ``<name>_to``, business dates
    in the platform's zone, both inclusive, on ``column``). Without ``apply`` the value is
    matched with ``column == value``."""

    name: str
    title: str
    kind: str = "text"
    column: Any = None
    apply: Apply | None = None
    choices: Sequence[str] = ()
    label_group: str | None = None
    picker: str | None = None
    placeholder: str = ""
    platform_only: bool = False  # e.g. a merchant picker: a merchant's staff only see theirs
    # a full card number: it narrows the list but is never written back into the page or
    # its links (history, proxies); it finds one card, so no page needs it carried on
    sensitive: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        if self.kind == "date_range":
            return (f"{self.name}_from", f"{self.name}_to")
        return (self.name,)


def matching(*columns: Any, exact: Sequence[Any] = ()) -> Apply:
    """A text filter's ``apply``: one of ``columns`` contains the text (any case; ``%`` and
    ``_`` are plain characters) or one of ``exact`` equals it (ids, codes)."""

    def apply(statement: Select[Any], text: str, console: Console) -> Select[Any]:
        pattern = text.lower()
        conditions = [func.lower(column).contains(pattern, autoescape=True) for column in columns]
        conditions += [column == text for column in exact]
        return statement.where(or_(*conditions))

    return apply


def text_filter(
    name: str, title: str, apply: Apply, placeholder: str = "", *, sensitive: bool = False
) -> Filter:
    return Filter(name, title, "text", apply=apply, placeholder=placeholder, sensitive=sensitive)


def select_filter(name: str, title: str, column: Any, choices: Sequence[str], group: str) -> Filter:
    return Filter(name, title, "select", column=column, choices=tuple(choices), label_group=group)


def picker_filter(
    name: str, title: str, picker: str, column: Any, *, platform_only: bool = False
) -> Filter:
    return Filter(name, title, "picker", column=column, picker=picker, platform_only=platform_only)


def id_filter(name: str, title: str, column: Any) -> Filter:
    return Filter(name, title, "hidden", column=column)


def date_range(name: str, title: str, column: Any) -> Filter:
    return Filter(name, title, "date_range", column=column)


@dataclass
class ListPage:
    """One page of a list, and every link it draws (each keeps the filters and the sort)."""

    spec: ListSpec
    path: str
    rows: list[Any]
    total: int
    number: int
    sort: str
    values: dict[str, str]
    extras: dict[str, Any] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    columns: list[Column] = field(default_factory=list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number * self.spec.page_size < self.total

    @property
    def first(self) -> int:
        return (self.number - 1) * self.spec.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    def url(self, **changes: object) -> str:
        """This list's path with the current query, changed by ``changes`` (None drops)."""
        query: dict[str, object] = {**self.values, "sort": self.sort, "page": self.number}
        if query["sort"] == self.spec.default_sort:
            query.pop("sort")
        if query["page"] == 1:
            query.pop("page")
        query.update(changes)
        kept = {key: value for key, value in query.items() if value not in (None, "")}
        return f"{self.path}?{urlencode(kept)}" if kept else self.path

    def page_url(self, number: int) -> str:
        return self.url(page=None if number <= 1 else number)

    def sort_url(self, key: str) -> str:
        """Sorting by ``key``: descending first, then flipping on each click (page 1)."""
        return self.url(sort=key if self.sort == f"-{key}" else f"-{key}", page=None)

    def sorted_by(self, key: str) -> str | None:
        """``asc`` / ``desc`` when the list is sorted by ``key``, else None."""
        if self.sort == key:
            return "asc"
        return "desc" if self.sort == f"-{key}" else None

    @property
    def csv_url(self) -> str:
        return self.url(format="csv", page=None)

    @property
    def is_filtered(self) -> bool:
        return bool(self.values)


@dataclass(frozen=True)
class ListSpec:
    """A console list, declared once per page (see the module and README.md)."""

    name: str  # the CSV file's name
    columns: Sequence[Column]
    id_column: Any
    filters: Sequence[Filter] = ()
    default_sort: str = "-created_at"
    extras: Extras | None = None
    page_size: int = PAGE_SIZE
    exportable: bool = True  # False: no CSV (a list of one-time codes, say)

    def columns_for(self, console: Console, *, csv: bool = False) -> list[Column]:
        """The columns this caller sees: on the page, or (``csv``) in the export."""
        return [
            column
            for column in self.columns
            if column.shown_to(console) and (column.csv is not None if csv else column.in_page)
        ]

    # --- reading the query string -------------------------------------------------------

    def values(self, console: Console) -> dict[str, str]:
        """The declared filters' values in the query string (anything else is ignored)."""
        query = console.request.query_params
        values: dict[str, str] = {}
        for spec in self.filters:
            if spec.platform_only and not console.signed_in.is_platform:
                continue
            for param in spec.params:
                value = (query.get(param) or "").replace("\x00", "").strip()[:TEXT_LIMIT]
                if spec.kind == "select" and value not in spec.choices:
                    continue
                if spec.kind == "date_range" and typed_date(value) is None:
                    continue
                if value:
                    values[param] = value
        return values

    def sort_of(self, console: Console) -> str:
        """``key`` or ``-key`` of a sortable column; the default for anything else."""
        asked = console.request.query_params.get("sort", "")
        key = asked.removeprefix("-")
        if any(column.key == key and column.sort is not None for column in self.columns):
            return asked
        return self.default_sort

    def filtered(self, console: Console, statement: Select[Any]) -> Select[Any]:
        """``statement`` narrowed by the filters in the query string."""
        values = self.values(console)
        timezone = console.settings.timezone
        for spec in self.filters:
            if spec.kind == "date_range":
                statement = _date_range(statement, spec, values, timezone)
                continue
            value = values.get(spec.name)
            if value is None:
                continue
            if spec.apply is not None:
                statement = spec.apply(statement, value, console)
            else:
                statement = statement.where(spec.column == value)
        return statement

    def ordered(self, statement: Select[Any], sort: str) -> Select[Any]:
        key = sort.removeprefix("-")
        column = next(column.sort for column in self.columns if column.key == key)
        if sort.startswith("-"):
            return statement.order_by(column.desc(), self.id_column.desc())
        return statement.order_by(column.asc(), self.id_column.asc())

    # --- a page -------------------------------------------------------------------------

    async def page(self, console: Console, statement: Select[Any]) -> ListPage:
        """This request's page of ``statement`` (already scoped by the caller)."""
        filtered = self.filtered(console, statement)
        sort = self.sort_of(console)
        total = await console.session.scalar(
            select(func.count()).select_from(filtered.order_by(None).subquery())
        )
        number = _page_number(console.request.query_params.get("page"))
        paged = self.ordered(filtered, sort).offset((number - 1) * self.page_size)
        rows = list((await console.session.scalars(paged.limit(self.page_size))).all())
        extras = await self.extras(console.session, rows) if self.extras else {}
        sensitive = {spec.name for spec in self.filters if spec.sensitive}
        shown = {key: value for key, value in self.values(console).items() if key not in sensitive}
        page = ListPage(
            self, console.request.url.path, rows, int(total or 0), number, sort, shown, extras
        )
        page.options = await self._picker_options(console, page)
        page.columns = self.columns_for(console)
        return page

    async def _picker_options(
        self, console: Console, page: ListPage
    ) -> dict[str, list[tuple[str, str]]]:
        from tongka.web.pickers import preloaded  # the pickers use this module's helpers

        return {
            spec.name: await preloaded(console, str(spec.picker), page.values.get(spec.name))
            for spec in self.filters
            if spec.kind == "picker" and (console.signed_in.is_platform or not spec.platform_only)
        }

    async def render(
        self,
        console: Console,
        statement: Select[Any],
        template: str,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """``template`` with this page as ``listing`` (its rows, total, links, extras), or
        with ``?format=csv`` the whole filtered list as CSV."""
        if self.exportable and console.request.query_params.get("format") == "csv":
            return self.csv_response(console, statement)
        page = await self.page(console, statement)
        return console.render(
            template, status_code=status_code, listing=page, **page.extras, **context
        )

    # --- CSV ----------------------------------------------------------------------------

    def csv_response(self, console: Console, statement: Select[Any]) -> StreamingResponse:
        """The filtered list as CSV, streamed: UTF-8 with a BOM (Excel reads the Chinese),
        headers in the page's language, times in the platform's zone, money in yuan."""
        filtered = self.filtered(console, statement).order_by(None)
        columns = self.columns_for(console, csv=True)
        writer = _CsvWriter(console.language, console.settings.timezone)
        header = writer.line([console.gettext(column.title) for column in columns])
        database = database_of(console.request)

        async def body() -> AsyncIterator[str]:
            yield BOM + header
            async with database.transaction() as session:
                async for chunk in self._chunks(session, filtered):
                    extras = await self.extras(session, chunk) if self.extras else {}
                    yield "".join(
                        writer.line([column.csv(row, extras) for column in columns])  # type: ignore[misc]
                        for row in chunk
                    )
                    session.expunge_all()  # constant memory: forget the rows written

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{self.name}.csv"'},
        )

    async def _chunks(
        self, session: AsyncSession, statement: Select[Any]
    ) -> AsyncIterator[list[Any]]:
        """The rows of ``statement``, newest first, ``CSV_CHUNK`` at a time (keyset by id)."""
        after: str | None = None
        while True:
            chunk_query = statement if after is None else statement.where(self.id_column < after)
            chunk_query = chunk_query.order_by(self.id_column.desc()).limit(CSV_CHUNK)
            chunk = list((await session.scalars(chunk_query)).all())
            if not chunk:
                return
            after = chunk[-1].id
            yield chunk
            if len(chunk) < CSV_CHUNK:
                return


class _CsvWriter:
    """CSV lines of plain values, formatted for people (and safe to open in a spreadsheet)."""

    def __init__(self, language: str, timezone: str) -> None:
        self.language, self.zone = language, ZoneInfo(timezone)

    def line(self, values: Sequence[object]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow([self.cell(value) for value in values])
        return out.getvalue()

    def cell(self, value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, Money):
            return value.to_decimal_string()
        if isinstance(value, Label):
            return label_text(self.language, value.group, value.value)
        if isinstance(value, bool):
            return "✓" if value else ""
        text = str(value)
        return f"'{text}" if text.startswith(_FORMULA_START) else text


def money(minor_units: int | None, currency: str) -> Money | None:
    """A CSV cell for an amount in minor units (exported in yuan)."""
    return None if minor_units is None else Money.of_minor(minor_units, currency)


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 1_000_000 else 1


def typed_date(text: str | None) -> date | None:
    """A typed ISO date, or None (empty, not a date, or out of the storable years)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if 2 <= day.year <= 9998 else None  # storable once in UTC (``platform_instant``)


def _date_range(
    statement: Select[Any], spec: Filter, values: dict[str, str], timezone: str
) -> Select[Any]:
    """From the start of ``_from`` to the end of ``_to``, both business dates in ``timezone``."""
    start, end = (
        typed_date(values.get(f"{spec.name}_from", "")),
        typed_date(values.get(f"{spec.name}_to", "")),
    )
    if start is not None:
        since = platform_instant(datetime.combine(start, time()), timezone, param=spec.name)
        statement = statement.where(spec.column >= since)
    if end is not None:
        until = datetime.combine(end + timedelta(days=1), time())
        statement = statement.where(
            spec.column < platform_instant(until, timezone, param=spec.name)
        )
    return statement


def csv_download(
    console: Console, name: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> Response:
    """A small table held in memory (an aggregate report) exported as the lists export
    theirs: a BOM, the headers (msgids) in the page's language, times in the platform's
    zone, ``money(...)`` in yuan, ``Label`` as words, formula-like cells quoted."""
    writer = _CsvWriter(console.language, console.settings.timezone)
    text = BOM + writer.line([console.gettext(title) for title in header])
    text += "".join(writer.line(row) for row in rows)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
