"""The agent as an operator runs it: config errors, status, and its presence at central."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testkit import ROOT, wait_for
from testkit.mosquitto import Mosquitto
from testkit.outbox import fill_outbox
from testkit.processes import Agent, Central, Proc, agent_config, run_module


def cuakhau(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("cuakhau", *args, timeout=60)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('device = "hn b1"\ngate = "CKHN"\n', "device"),
        ('device = "hn-b1"\n', "gate"),
        ('device = "hn-b1"\ngate = "CKHN"\ncolour = "red"\n', "colour"),
        ('device = "hn-b1"\ngate = "CKHN"\n[mqtt]\nport = 70000\n', "port"),
        ('device = "hn-b1"\ngate = "CKHN"\n[sync]\nbatch_max_events = 0\n', "batch_max_events"),
        ("device = \n", "not valid TOML"),
        ('device = "hn-b1"\ngate = "CKHN"\nreader = "int4"\n', "reader"),
    ],
)
def test_a_bad_config_is_refused_with_the_file_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "box.toml"
    path.write_text(text, encoding="utf-8")
    result = cuakhau("agent", "run", "--config", str(path))
    assert result.returncode == 2
    assert str(path) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    result = cuakhau("agent", "run", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "no such config file" in result.stderr


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("binary", "not a text file"),
        ("directory", "not a file"),
        ("password_file", "mqtt.password_file"),
        ("ca_file", "mqtt.ca_file"),
    ],
)
def test_every_command_refuses_an_unusable_config_in_one_line(
    tmp_path: Path, what: str, expected: str
) -> None:
    box, central = tmp_path / "box.toml", tmp_path / "central.toml"
    if what == "binary":
        for path in (box, central):
            path.write_bytes(b"\x00\xff\xfe" + bytes(range(256)))
    elif what == "directory":
        box.mkdir()
        central.mkdir()
    else:
        mqtt = f'[mqtt]\n{what} = "{tmp_path}/missing.pem"\n'
        box.write_text(f'device = "hn-b1"\ngate = "CKHN"\n{mqtt}', encoding="utf-8")
        central.write_text(mqtt, encoding="utf-8")
    for command, path in (
        (("agent", "run"), box),
        (("agent", "status"), box),
        (("central", "serve"), central),
    ):
        result = cuakhau(*command, "--config", str(path))
        assert result.returncode == 2, (command, result.stderr)
        assert expected in result.stderr and str(path) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_checkpoint_name_with_control_or_bidi_characters_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "box.toml"
    path.write_text(
        'device = "hn-b1"\ngate = "CKHN"\n[[lanes]]\n[lanes.barrier]\nurl = "/dev/null"\n'
        '[lanes.policy]\ncheckpoint = "barrier\\u202ein"\nkind = "barrier-in"\n',
        encoding="utf-8",
    )
    result = cuakhau("agent", "run", "--config", str(path))
    assert result.returncode == 2 and "checkpoint" in result.stderr, result.stderr


def test_status_of_a_box_that_never_ran_says_so_and_creates_nothing(tmp_path: Path) -> None:
    config = tmp_path / "box.toml"
    config.write_text(
        f'device = "hn-s0"\ngate = "CKHN"\n[store]\npath = "{tmp_path}/var/lib/hn-s0.db"\n',
        encoding="utf-8",
    )
    result = cuakhau("agent", "status", "--config", str(config))
    assert result.returncode == 2 and "no store" in result.stderr, result.stderr
    assert not (tmp_path / "var").exists()


def test_status_shows_what_waits_in_the_outbox(tmp_path: Path) -> None:
    config = agent_config(tmp_path, "hn-s1", 1)
    fill_outbox(tmp_path / "hn-s1.db", 42)
    result = cuakhau("agent", "status", "--config", str(config))
    status = json.loads(result.stdout)
    assert status["pending"] == 42 and status["last_seq"] == 42 and status["acked_seq"] == 0


def test_central_sees_a_box_go_offline_by_its_last_will(
    tmp_path: Path, mosquitto: Mosquitto, central: Central, processes: list[Proc]
) -> None:
    agent = Agent(tmp_path, agent_config(tmp_path, "hn-w1", mosquitto.port))
    processes.append(agent)
    agent.start()

    def status() -> str | None:
        devices = central.get("/api/devices")
        return devices[0]["status"] if devices else None

    wait_for(lambda: status() == "online", 20, "the box online")
    agent.kill()  # no goodbye: the broker publishes the will after 1.5 x keepalive (5 s)
    wait_for(lambda: status() == "offline", 20, "the box offline")


def test_a_lane_without_its_models_says_which_file_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "box.toml"
    path.write_text(
        'device = "hn-b1"\ngate = "CKHN"\nmodels = "no-models-here"\n'
        '[mqtt]\nport = 1\n[[lanes]]\n[lanes.barrier]\nurl = "/dev/null"\n'
        '[lanes.policy]\ncheckpoint = "barrier-in"\nkind = "barrier-in"\n',
        encoding="utf-8",
    )
    result = cuakhau("agent", "run", "--config", str(path))
    assert result.returncode == 2
    assert "no-models-here/plate_reader.xml is missing" in result.stderr
    # a box set to the INT8 reader, in a folder holding only the float one, says how to make it
    models = tmp_path / "float-only"
    models.mkdir()
    for name in ("plate_reader.xml", "plate_reader.bin"):
        (models / name).write_bytes((ROOT / "models" / name).read_bytes())
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'models = "no-models-here"', 'models = "float-only"\nreader = "int8"'
        ),
        encoding="utf-8",
    )
    result = cuakhau("agent", "run", "--config", str(path))
    assert result.returncode == 2
    assert "float-only/plate_reader.int8.xml is missing" in result.stderr
    assert "models.recipes.quantize_reader" in result.stderr


def test_an_unknown_scale_protocol_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "box.toml"
    path.write_text(
        'device = "hn-b1"\ngate = "CKHN"\n[[lanes]]\n[lanes.barrier]\nurl = "/dev/null"\n'
        '[lanes.scale]\nprotocol = "yaohua-9"\nurl = "/dev/null"\n'
        '[lanes.policy]\ncheckpoint = "barrier-in"\nkind = "barrier-in"\n',
        encoding="utf-8",
    )
    result = cuakhau("agent", "run", "--config", str(path))
    assert result.returncode == 2
    assert "unknown protocol 'yaohua-9'" in result.stderr and "toledo" in result.stderr


def test_central_on_a_database_it_cannot_open_says_so_in_one_line(tmp_path: Path) -> None:
    not_a_db = tmp_path / "central.db"
    not_a_db.write_text("these are someone's notes, not a database\n", encoding="utf-8")
    for db in (str(not_a_db), "/proc/no-such-dir/central.db"):
        result = cuakhau("central", "serve", "--db", db, "--port", "0")
        assert result.returncode == 2, result.stderr
        assert db in result.stderr and "cannot open it as a database" in result.stderr
        assert "Traceback" not in result.stderr
    assert not_a_db.read_text(encoding="utf-8").startswith("these are")


def test_a_box_and_central_never_open_each_others_database(tmp_path: Path) -> None:
    import sqlite3

    from central.store import CentralStore
    from edge_agent.store import EdgeStore

    CentralStore(tmp_path / "central.db").close()
    EdgeStore(tmp_path / "box.db").close()
    stranger = tmp_path / "notes.db"
    conn = sqlite3.connect(stranger)
    conn.execute("CREATE TABLE z (a)")
    conn.commit()
    conn.close()
    box = tmp_path / "box.toml"
    for db in ("central.db", "notes.db"):
        box.write_text(f'device = "hn-b1"\ngate = "CKHN"\n[store]\npath = "{db}"\n')
        result = cuakhau("agent", "status", "--config", str(box))
        assert result.returncode == 2 and "not a gate box's store" in result.stderr, result.stderr
    for db in ("box.db", "notes.db"):
        result = cuakhau("central", "serve", "--db", str(tmp_path / db), "--port", "0")
        assert result.returncode == 2 and "not central's database" in result.stderr
    conn = sqlite3.connect(stranger)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert tables == ["z"] and version == 0, "nothing written to a stranger's file"
