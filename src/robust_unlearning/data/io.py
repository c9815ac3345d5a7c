"""Read and write the prepared JSONL record files, atomically, and take even subsets of them."""

import json
import os
from pathlib import Path


def read_jsonl(path: str | Path, limit: int | None = None) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(records) >= limit:
                break
            if line.strip():
                records.append(json.loads(line))
    return records


def write_text(path: str | Path, text: str) -> None:
    """Atomically, like every other output: a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def spread(records: list[dict], n: int) -> list[dict]:
    """`n` records evenly spaced over the list (all of a shorter one), so a small evaluation subset of a TOFU split
    covers every author."""
    if len(records) <= n:
        return list(records)
    return [records[i * len(records) // n] for i in range(n)]
