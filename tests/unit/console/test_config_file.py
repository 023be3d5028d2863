"""Settings written from the console keep the rest of config.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from escher.config import Paths
from escher.config_write import write_section


def test_one_table_is_replaced_and_the_rest_of_the_file_kept(tmp_path: Path) -> None:
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path / "data")
    paths.config_file.write_text(
        '# my settings\n[general]\ntimezone = "Europe/Paris"\n\n[report]\nfocus = "cost"\n\n'
        '[notify.channels.ops]\nurl = "json://localhost/x"\n',
        encoding="utf-8",
    )
    write_section(paths, "report", {"focus": "security", "sections": ["alerts", "security"]})
    write_section(paths, "notify.routes", {"CRITICAL": ["ops"]})
    text = paths.config_file.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert text.startswith("# my settings")
    assert data["general"] == {"timezone": "Europe/Paris"}
    assert data["report"] == {"focus": "security", "sections": ["alerts", "security"]}
    assert data["notify"] == {
        "channels": {"ops": {"url": "json://localhost/x"}},
        "routes": {"CRITICAL": ["ops"]},
    }
