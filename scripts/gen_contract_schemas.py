"""Write the generated JSON Schemas (documents and DeclareDocument commands) from the CEB field tables.

Run: ``.venv/bin/python scripts/gen_contract_schemas.py`` after ``gen_ceb_tables.py`` changes the tables.
``tests/contract/test_contract_schemas.py`` fails when the committed files differ from what this writes.
"""

from __future__ import annotations

import json

from cbec.contracts.schema_check import SCHEMA_DIR
from cbec.contracts.schema_gen import generated


def render(schema: object) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    for relative, schema in generated().items():
        path = SCHEMA_DIR / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema), encoding="utf-8")
        print(f"wrote {path.relative_to(SCHEMA_DIR.parents[3])}")


if __name__ == "__main__":
    main()
