"""Documents out of records: the text, the id and the metadata fields of one record, with
errors that name the file, the line (or row) and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.ingest.records import SKIP_FIX, SKIP_ROW_FIX, Record, json_kind

# -- documents out of records -------------------------------------------------------------------
_MISSING = object()


def field_value(data: dict, path: str) -> Any:
    """data["a"]["b"] for "a.b" (an exact key "a.b" wins); _MISSING when absent."""
    if path in data:
        return data[path]
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def extract_doc(
    rec: Record,
    text_field: str = "text",
    id_field: str | None = None,
    meta_fields: tuple[str, ...] = (),
) -> tuple[str, str, dict | None]:
    """(ext_id, text, meta) of a document record; InputError naming the field when it is bad.

    Without `id_field` the record's "id" is used when present, else "<file name>:<line>".
    Missing meta fields are None; `meta` is None when no meta fields were asked for.
    Dotted names ("meta.url") reach into nested objects.
    """
    text = _doc_text(rec, text_field)
    ext_id = _doc_id(rec, id_field)
    meta = None
    if meta_fields:
        meta = {}
        for name in meta_fields:
            value = field_value(rec.data, name)
            meta[name] = None if value is _MISSING else value
        _check_encodable(rec, meta, "a meta field")
    return ext_id, text, meta


def _where(rec: Record) -> dict[str, Any]:
    return {"file": rec.source, "line": rec.line, "unit": rec.unit}


def _skip_fix(rec: Record) -> str:
    return SKIP_FIX if rec.unit == "line" else SKIP_ROW_FIX


def _doc_text(rec: Record, text_field: str) -> str:
    text = field_value(rec.data, text_field)
    if text is _MISSING:
        fields = sorted(map(str, rec.data))
        listed = ", ".join(fields[:20]) + (", ..." if len(fields) > 20 else "") or "none"
        raise InputError(
            f"missing; this record has the fields: {listed}",
            field=text_field,
            fix="name the text field with --text-field NAME, or pass --skip-bad",
            **_where(rec),
        )
    if not isinstance(text, str):
        raise InputError(
            f"must be a string, got {json_kind(text) if not isinstance(text, dict) else 'an object'}",
            field=text_field,
            fix="point --text-field at a string field; " + _skip_fix(rec),
            **_where(rec),
        )
    if not text.strip():
        raise InputError(
            "is empty (or only whitespace)", field=text_field, fix=_skip_fix(rec), **_where(rec)
        )
    _check_encodable(rec, text, f"field '{text_field}'")
    return text


def _doc_id(rec: Record, id_field: str | None) -> str:
    name = id_field or "id"
    value = field_value(rec.data, name)
    if value is _MISSING or (id_field is None and value is None):
        if id_field is not None:
            raise InputError(
                "missing (the id field given with --id-field)",
                field=id_field,
                fix="give every record an id, or drop --id-field to number them by line",
                **_where(rec),
            )
        return f"{Path(rec.source).name}:{rec.line}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(
            "the id must be a string or an integer, got "
            + (json_kind(value) if not isinstance(value, dict) else "an object"),
            field=name,
            fix="use another --id-field; " + _skip_fix(rec),
            **_where(rec),
        )
    ext_id = str(value)
    if not ext_id.strip():
        raise InputError("the id is empty", field=name, fix=_skip_fix(rec), **_where(rec))
    _check_encodable(rec, ext_id, f"field '{name}'")
    return ext_id


def _check_encodable(rec: Record, value: Any, what: str) -> None:
    """JSON may spell lone surrogates ("\\ud800"), which no UTF-8 database column can store."""
    try:
        if isinstance(value, str):
            value.encode("utf-8")
        else:
            json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} holds an unpaired surrogate escape (\\u{ord(exc.object[exc.start]):04x}), "
            "which is not valid Unicode text",
            fix=_skip_fix(rec),
            **_where(rec),
        ) from None
    except (ValueError, TypeError, RecursionError):
        pass  # not JSON-serialisable meta is the importer's concern, not an encoding problem
