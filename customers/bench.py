"""The import benchmark's CSV (demo/bench/importer.py times importing it): `write_csv(path, rows, offset=...)`.

Row i is customer i: a name, a company, a city, a phone and an email derived from i, so a file written with the
same offsets matches the customers an earlier import of it created (by phone and email). One row in a hundred
(`bad_every`) has an invalid phone and lands in the error report. Written with the csv module because it is an
import file, not an export (config.spreadsheet guards exports).
"""

import csv


def write_csv(path: str, rows: int, *, offset: int = 0, bad_every: int = 100) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "company", "city", "phone", "email", "wechat"])
        for i in range(offset, offset + rows):
            phone = f"+86 139-{i // 10000 % 10000:04d}-{i % 10000:04d}"
            email = f"Customer.{i}@Example.com "
            if bad_every and i % bad_every == 99:
                phone = "12345"  # invalid: lands in the error report
            writer.writerow([f"客户 {i}", f"Company {i % 5000}", "上海" if i % 2 else "Beijing", phone, email, ""])
