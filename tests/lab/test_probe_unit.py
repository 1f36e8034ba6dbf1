# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the API availability probe (tests/lab/probe.py). They need NO lab: the pure logic
(rate scheduler, classification, percentiles, timeline, aggregation, atomic write, argument checks)
and the probe's loops against an in-memory fake of the Compute API.

    .venv/bin/python -m pytest tests/lab/test_probe_unit.py -q
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

import pytest

_PATH = Path(__file__).with_name("probe.py")
_SPEC = importlib.util.spec_from_file_location("lab_probe", _PATH)
probe = importlib.util.module_from_spec(_SPEC)
sys.modules["lab_probe"] = probe
_SPEC.loader.exec_module(probe)


# --- rate scheduler ----------------------------------------------------------------------------------

def test_scheduler_slots_are_exact_and_do_not_drift():
    sched = probe.RateScheduler(6, start=100.0)
    assert sched.take(99.9) == (0, 0)
    assert sched.take(100.0) == (1, 0)
    assert sched.next_due() == pytest.approx(100.0 + 1 / 6)
    assert sched.take(100.1) == (0, 0)
    # slot 6000 is due at exactly start + 1000 s: no accumulated float error
    assert sched.slot_time(6000) == pytest.approx(1100.0, abs=1e-9)


def test_scheduler_total_over_a_minute_with_jittery_wakeups():
    rnd = random.Random(7)
    sched = probe.RateScheduler(6, start=0.0)
    now, last, sent, dropped = 0.0, 0.0, 0, 0
    while now < 60.0:
        due, drop = sched.take(now)
        sent += due
        dropped += drop
        last = now
        now += rnd.uniform(0.01, 0.3)  # never late by more than max_lag
    assert dropped == 0
    assert sent == len([k for k in range(400) if k / 6 <= last])  # one per slot up to the last wake-up
    assert 359 <= sent <= 361


def test_scheduler_drops_slots_older_than_max_lag_instead_of_bursting():
    sched = probe.RateScheduler(2, start=0.0, max_lag=1.0)  # slots at 0, 0.5, 1.0, ...
    assert sched.take(0.0) == (1, 0)
    # held up until 3.2: slots 1..4 (0.5..2.0) are more than 1 s late, slots 5 and 6 (2.5, 3.0) are sent
    assert sched.take(3.2) == (2, 4)
    assert sched.next_due() == pytest.approx(3.5)
    assert sched.take(3.5) == (1, 0)


def test_scheduler_keeps_a_slot_exactly_max_lag_late():
    sched = probe.RateScheduler(1, start=0.0, max_lag=1.0)
    assert sched.take(0.0) == (1, 0)
    assert sched.take(2.0) == (2, 0)  # slot 1 (1 s late) and slot 2


@pytest.mark.parametrize("rate", [0, -1])
def test_scheduler_refuses_a_rate_that_is_not_positive(rate):
    with pytest.raises(ValueError, match="rate must be > 0"):
        probe.RateScheduler(rate, start=0.0)


# --- rotation ----------------------------------------------------------------------------------------

def test_rotation_alternates_the_three_reads_and_round_robins_servers():
    rot = probe.Rotation(["a", "b"])
    got = [rot.next() for _n in range(6)]
    assert got == [
        ("servers_detail", "/servers/detail", None),
        ("server_get", "/servers/a", "a"),
        ("os_services", "/os-services", None),
        ("servers_detail", "/servers/detail", None),
        ("server_get", "/servers/b", "b"),
        ("os_services", "/os-services", None),
    ]


def test_rotation_without_servers_leaves_server_get_out():
    rot = probe.Rotation([])
    names = [rot.next()[0] for _n in range(4)]
    assert names == ["servers_detail", "os_services", "servers_detail", "os_services"]


def test_rotation_drop():
    rot = probe.Rotation(["a", "a", "b"])
    assert rot.server_ids == ["a", "b"]
    assert rot.drop("a") is True
    assert rot.drop("a") is False
    assert {rot.next()[2] for _n in range(9)} == {None, "b"}


# --- classification, percentiles, timeline, aggregation ----------------------------------------------

@pytest.mark.parametrize(
    "name,status,error,ok,kind",
    [
        ("servers_detail", 200, None, True, "ok"),
        ("boot_create", 202, None, True, "ok"),
        ("delete", 204, None, True, "ok"),
        ("servers_detail", 503, None, False, "http_503"),
        ("servers_detail", 500, None, False, "http_500"),
        ("server_get", 404, None, False, "http_404"),
        ("os_services", 401, None, False, "http_401"),
        ("delete_poll", 404, None, True, "expected_404"),
        ("delete_poll", 409, None, False, "http_409"),
        ("delete_poll", 503, None, False, "http_503"),
        ("servers_detail", None, "ConnectFailure", False, "exception:ConnectFailure"),
        ("servers_detail", 200, "JSONDecodeError", False, "exception:JSONDecodeError"),
        ("servers_detail", None, None, False, "exception:NoResponse"),
    ],
)
def test_classify(name, status, error, ok, kind):
    assert probe.classify(name, status, error) == (ok, kind)


def test_percentile_nearest_rank():
    values = list(range(1, 101))  # 1..100
    random.Random(1).shuffle(values)
    assert probe.percentile(values, 50) == 50
    assert probe.percentile(values, 95) == 95
    assert probe.percentile(values, 100) == 100
    assert probe.percentile(values, 0) == 1
    assert probe.percentile([0.3], 95) == 0.3
    assert probe.percentile([1, 2, 3, 4], 50) == 2
    assert probe.percentile([], 50) is None
    with pytest.raises(ValueError, match="0..100"):
        probe.percentile([1], 101)


def _rec(t, name="servers_detail", ok=True, source="load", latency=0.05, kind=None):
    return {"t": t, "name": name, "source": source, "ok": ok, "latency_s": latency,
            "kind": kind or ("ok" if ok else "http_503")}


def test_timeline_buckets_counts_failures_and_skips():
    records = [_rec(0.0), _rec(9.99), _rec(10.0, ok=False), _rec(25.0, source="cycle", name="boot_poll")]
    rows = probe.build_timeline(records, skipped_times=[11.0, 12.0], duration=30.0)
    assert rows == [
        {"t": 0.0, "load": 2, "cycle": 0, "failed": 0, "skipped": 0},
        {"t": 10.0, "load": 1, "cycle": 0, "failed": 1, "skipped": 2},
        {"t": 20.0, "load": 0, "cycle": 1, "failed": 0, "skipped": 0},
    ]


def test_timeline_has_empty_buckets_and_counts_late_records_in_the_last():
    rows = probe.build_timeline([_rec(45.0, source="cycle", name="cleanup_poll"), _rec(0.5)], [], duration=30.0)
    assert [r["t"] for r in rows] == [0.0, 10.0, 20.0]
    assert rows[1] == {"t": 10.0, "load": 0, "cycle": 0, "failed": 0, "skipped": 0}
    assert rows[2]["cycle"] == 1
    assert len(probe.build_timeline([], [], duration=60.0)) == 6
    assert len(probe.build_timeline([], [], duration=60.004)) == 6
    assert len(probe.build_timeline([], [], duration=60.5)) == 7
    assert probe.build_timeline([], [], duration=0.0) == [{"t": 0.0, "load": 0, "cycle": 0, "failed": 0, "skipped": 0}]


def test_aggregate():
    records = [_rec(i * 0.2, latency=0.01 * (i + 1)) for i in range(50)]
    records.append(_rec(3.0, ok=False, kind="http_503", latency=0.5))
    records.append(_rec(4.0, ok=False, kind="exception:ReadTimeout", latency=10.0, name="os_services"))
    records.append(_rec(5.0, source="cycle", name="boot_create"))
    cycles = [
        {"n": 1, "status": "ok", "host": "cmp1"},
        {"n": 2, "status": "ok", "host": "cmp2"},
        {"n": 3, "status": "ok", "host": "cmp1"},
        {"n": 4, "status": "failed", "host": "cmp3", "error": "ERROR"},
        {"n": 5, "status": "interrupted", "host": None},
    ]
    agg = probe.aggregate(records, [1.0], duration=10.0, rate=6, cycles=cycles)
    req = agg["requests"]
    assert req["sent"] == 53
    assert req["load_sent"] == 52
    assert req["cycle_sent"] == 1
    assert req["failed"] == 2
    assert req["load_failed"] == 2
    assert req["skipped_slots"] == 1
    assert req["achieved_rate"] == 5.2
    assert req["failures_by_kind"] == {"exception:ReadTimeout": 1, "http_503": 1}
    assert req["by_name"]["os_services"] == {
        "sent": 1, "failed": 1, "latency_s": {"count": 1, "p50": 10.0, "p95": 10.0, "max": 10.0}}
    assert req["latency_s"]["count"] == 52
    assert req["latency_s"]["p50"] == 0.26
    assert req["latency_s"]["max"] == 10.0
    assert agg["cycles"]["ok"] == 3
    assert agg["cycles"]["failed"] == 1
    assert agg["cycles"]["interrupted"] == 1
    assert agg["cycles"]["hosts"] == {"cmp1": 2, "cmp2": 1}
    assert sum(r["load"] for r in agg["timeline"]) == 52


def test_aggregate_of_nothing():
    agg = probe.aggregate([], [], duration=0.0, rate=6)
    assert agg["requests"]["achieved_rate"] == 0.0
    assert agg["requests"]["latency_s"] == {"count": 0, "p50": None, "p95": None, "max": None}


def test_summary_text_names_the_figures():
    agg = probe.aggregate([_rec(0.0), _rec(1.0, ok=False)], [], duration=2.0, rate=6,
                          cycles=[{"n": 1, "status": "failed", "error": "not ACTIVE within 180 s", "host": None}])
    result = {"run": "abc123", "duration_s": 2.0, "stop_reason": "max-seconds", "endpoint": "http://lb:8774/v2.1",
              "cleanup": {"deleted": [], "left": ["probe-abc123-1 (id)"]}, **agg}
    text = probe.summary_text(result)
    assert "\n" not in text
    for part in ("probe abc123", "2.0 s (stopped: max-seconds)", "2 read requests at 1.00/s (target 6/s",
                 "http://lb:8774/v2.1", "failed: 1 (http_503: 1)", "p50 0.050 s", "0 ok, 1 failed",
                 "#1 not ACTIVE within 180 s", "LEFT BEHIND: probe-abc123-1", "(reads/failed): 2/1."):
        assert part in text, (part, text)


# --- atomic write, scrubbing ---------------------------------------------------------------------------

def test_write_json_atomic_replaces_and_leaves_no_temp(tmp_path):
    out = tmp_path / "r.json"
    probe.write_json_atomic(str(out), {"a": 1})
    probe.write_json_atomic(str(out), {"a": 2})
    assert json.loads(out.read_text()) == {"a": 2}
    assert sorted(os.listdir(tmp_path)) == ["r.json"]
    assert oct(out.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("data", [
    {"a": 1, "records": [{"t": 0.1, "ok": True}, {"t": 0.2, "ok": False, "detail": "x\n\"y\""}], "z": [1, 2]},
    {"records": [{"t": 0.1}]},
    {"records": []},
    {"a": {"b": [1, {"c": None}]}},
    {},
    [1, 2],
])
def test_to_json_round_trips_and_puts_one_record_a_line(data):
    text = probe.to_json(data)
    assert json.loads(text) == data
    assert text.endswith("\n")
    if isinstance(data, dict) and data.get("records"):
        lines = text.splitlines()
        assert sum(1 for line in lines if line.lstrip().startswith('{"t"')) == len(data["records"])


def test_write_json_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    out = tmp_path / "r.json"
    probe.write_json_atomic(str(out), {"a": 1})
    with pytest.raises(TypeError):
        probe.write_json_atomic(str(out), {"a": object()})
    assert json.loads(out.read_text()) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_scrub_masks_secrets_and_truncates():
    text = probe.scrub("POST http://admin:s3cr3t@10.77.0.10:5000/v3 password=hunter2 X-Auth-Token: gAAAAAB123 "
                       '{"token": "abc"} ' + "x" * 500)
    for secret in ("s3cr3t", "hunter2", "gAAAAAB123", '"abc"'):
        assert secret not in text
    assert "http://admin:***@10.77.0.10:5000/v3" in text
    assert len(text) == probe.DETAIL_CHARS


# --- arguments ---------------------------------------------------------------------------------------------

@pytest.fixture
def clouds(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds: {}\n")
    return path


def _args(tmp_path, clouds, *extra):
    return probe.parse_args(["--out", str(tmp_path / "p.json"), "--clouds-yaml", str(clouds), *extra])


def test_parse_args_defaults(tmp_path, clouds):
    args = _args(tmp_path, clouds)
    assert (args.cloud, args.rate, args.workers, args.max_seconds, args.cycles) == ("lab", 6.0, 8, 1800.0, 0)
    assert (args.image, args.flavor, args.boot_timeout) == ("cirros-lab", "m1.lab", 180.0)


def test_parse_args_clouds_yaml_from_environment(tmp_path, clouds, monkeypatch):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    args = probe.parse_args(["--out", str(tmp_path / "p.json")])
    assert args.clouds_yaml == str(clouds)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--rate", "0"], "--rate 0 is out of range"),
        (["--rate", "nan"], "--rate nan is out of range"),
        (["--rate", "500"], "--rate 500 is out of range"),
        (["--workers", "0"], "--workers 0 is out of range"),
        (["--max-seconds", "-5"], "--max-seconds -5 is out of range"),
        (["--cycles", "-1"], "--cycles -1 is out of range"),
        (["--boot-timeout", "0"], "--boot-timeout 0 is out of range"),
        (["--server-id", "not-a-uuid"], "--server-id 'not-a-uuid' is not a server UUID"),
    ],
)
def test_parse_args_refuses_bad_values(tmp_path, clouds, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        _args(tmp_path, clouds, *extra)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_parse_args_refuses_missing_out_dir_and_clouds_yaml(tmp_path, clouds, capsys):
    with pytest.raises(SystemExit):
        probe.parse_args(["--out", str(tmp_path / "nope" / "p.json"), "--clouds-yaml", str(clouds)])
    assert "does not exist or is not writable" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.parse_args(["--out", str(tmp_path / "p.json"), "--clouds-yaml", str(tmp_path / "missing.yaml")])
    assert "missing.yaml does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.parse_args(["--out", str(tmp_path), "--clouds-yaml", str(clouds)])
    assert "is a directory" in capsys.readouterr().err


# --- the probe's loops against a fake Compute API ---------------------------------------------------

class _Resp:
    def __init__(self, status, body=None, text="", served_by=None):
        self.status_code = status
        self.headers = {"X-Served-By": served_by} if served_by else {}
        self._body = body
        self.content = json.dumps(body).encode() if body is not None else b""
        self.text = text or (self.content.decode() if body is not None else "")

    def json(self):
        return self._body


class FakeNova:
    """Just enough of the Compute API: reads, boot (BUILD for `build_polls` GETs, then ACTIVE on
    cmp<k>), delete (gone after `delete_polls` GETs). `fail` maps a request name to a queue of
    answers (an int status or an exception) served before the normal ones."""

    def __init__(self, servers=("s1", "s2"), build_polls=1, delete_polls=1, error_on_boot=False, delete_fails=False,
                 nodes=(), node_status=None):
        self.delete_fails = delete_fails
        # nodes: the API nodes behind the load balancer, answering in turn (X-Served-By); node_status: {node:
        # status} of a node that answers GET /servers/{id} of a server booted by the probe with that status
        self.nodes, self.node_status, self.turn = list(nodes), dict(node_status or {}), 0
        self.lock = threading.Lock()
        self.servers = {sid: {"id": sid, "name": sid, "status": "ACTIVE"} for sid in servers}
        self.build_polls, self.delete_polls, self.error_on_boot = build_polls, delete_polls, error_on_boot
        self.polls = {}
        self.deleting = set()
        self.calls = []
        self.fail = {}
        self.n = 0

    def get(self, path, **kwargs):
        return self.request(path, "GET", **kwargs)

    def post(self, path, **kwargs):
        return self.request(path, "POST", **kwargs)

    def request(self, path, method, **kwargs):
        assert kwargs["raise_exc"] is False and kwargs["connect_retries"] == 0
        with self.lock:
            self.calls.append((method, path, kwargs.get("params")))
            queue = self.fail.get((method, path))
            if queue:
                answer = queue.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return _Resp(answer, text='{"message": "boom password=hunter2"}')
            resp = self._answer(method, path, kwargs)
            if self.nodes:
                node = self.nodes[self.turn % len(self.nodes)]
                self.turn += 1
                resp.headers = {"X-Served-By": node}
                if (node in self.node_status and method == "GET" and path.startswith("/servers/new-")
                        and resp.status_code == 200):
                    resp = _Resp(self.node_status[node], text="IncompatibleObjectVersion", served_by=node)
            return resp

    def _answer(self, method, path, kwargs):
        if method == "GET" and path == "/servers/detail":
            return _Resp(200, {"servers": list(self.servers.values())})
        if method == "GET" and path == "/os-services":
            return _Resp(200, {"services": []})
        if method == "GET" and path == "/os-hypervisors/detail":
            assert kwargs["microversion"] == "2.88"
            return _Resp(200, {"hypervisors": []})
        if method == "GET" and path == "/servers":
            prefix = kwargs["params"]["name"].lstrip("^")
            return _Resp(200, {"servers": [s for s in self.servers.values() if s["name"].startswith(prefix)]})
        if method == "POST" and path == "/servers":
            self.n += 1
            sid = f"new-{self.n}"
            self.servers[sid] = {"id": sid, "name": kwargs["json"]["server"]["name"], "status": "BUILD"}
            assert kwargs["microversion"] == "2.37" and kwargs["json"]["server"]["networks"] == "none"
            return _Resp(202, {"server": {"id": sid}})
        sid = path.split("/")[2]
        srv = self.servers.get(sid)
        if srv is None:
            return _Resp(404, text='{"itemNotFound": {"code": 404}}')
        if method == "DELETE" and self.delete_fails:
            srv.update({"status": "ERROR", "OS-EXT-STS:task_state": None, "fault": {"message": "disk busy"}})
            return _Resp(204)
        if method == "DELETE":
            srv["OS-EXT-STS:task_state"] = "deleting"
            self.deleting.add(sid)
            self.polls[sid] = 0
            return _Resp(204)
        self.polls[sid] = self.polls.get(sid, 0) + 1
        if sid in self.deleting and self.polls[sid] > self.delete_polls:
            del self.servers[sid]
            return _Resp(404)
        if srv["status"] == "BUILD" and self.polls[sid] > self.build_polls:
            srv["status"] = "ERROR" if self.error_on_boot else "ACTIVE"
            srv["OS-EXT-SRV-ATTR:host"] = f"cmp{(self.n - 1) % 3 + 1}"
            srv["OS-EXT-STS:task_state"] = None
            if self.error_on_boot:
                srv["fault"] = {"message": "No valid host was found."}
        return _Resp(200, {"server": dict(srv)})


def _probe(tmp_path, clouds, nova, *extra):
    args = _args(tmp_path, clouds, "--poll-interval", "0.01", "--check-interval", "0.02", *extra)
    p = probe.Probe(args)
    p.adapter = nova
    p.endpoint = "http://10.77.0.10:8774/v2.1"
    p.rotation = probe.Rotation(list(nova.servers))
    return p


def test_call_records_status_exception_and_scrubbed_detail(tmp_path, clouds):
    nova = FakeNova()
    p = _probe(tmp_path, clouds, nova)
    nova.fail[("GET", "/servers/detail")] = [503, ConnectionError("refused, token=abc")]
    assert p.call("servers_detail", "GET", "/servers/detail", "load") == (503, None)
    assert p.call("servers_detail", "GET", "/servers/detail", "load") == (None, None)
    assert p.call("servers_detail", "GET", "/servers/detail", "load", parse=True)[0] == 200
    first, second, third = p.records
    assert (first["status"], first["ok"], first["kind"]) == (503, False, "http_503")
    assert "hunter2" not in first["detail"] and "password=***" in first["detail"]
    assert (second["error"], second["kind"]) == ("ConnectionError", "exception:ConnectionError")
    assert "abc" not in second["detail"]
    assert third["ok"] and "detail" not in third
    assert set(first) >= {"t", "wall", "name", "source", "status", "error", "latency_s", "ok", "kind"}


def test_run_load_keeps_the_rate_and_stops_at_max_seconds(tmp_path, clouds):
    nova = FakeNova()
    p = _probe(tmp_path, clouds, nova, "--rate", "20", "--max-seconds", "1.5")
    p.t0 = time.monotonic()
    p.run_load()
    data = p.result(complete=True)
    assert data["stop_reason"] == "max-seconds"
    assert 28 <= data["requests"]["load_sent"] <= 32  # slots at 0, 0.05, ... 1.45
    assert data["requests"]["failed"] == 0
    assert {r["name"] for r in data["records"]} == {"servers_detail", "server_get", "os_services"}
    assert 1.4 <= data["duration_s"] < 2.0


def test_run_load_stops_on_the_stop_file_and_writes_intermediate_results(tmp_path, clouds):
    nova = FakeNova()
    stop = tmp_path / "stop"
    p = _probe(tmp_path, clouds, nova, "--rate", "20", "--max-seconds", "20", "--stop-file", str(stop),
               "--write-interval", "0.2")
    p.t0 = time.monotonic()
    timer = threading.Timer(0.7, stop.touch)
    timer.start()
    t = time.monotonic()
    p.run_load()
    timer.join()
    assert time.monotonic() - t < 2
    assert p.stop_reason == "stop-file"
    p._writer.join(timeout=5)  # pylint: disable=protected-access
    partial = json.loads((tmp_path / "p.json").read_text())
    assert partial["complete"] is False and partial["requests"]["load_sent"] > 0
    assert p.write(complete=True)["complete"] is True
    assert p.write(complete=False) is None  # a late intermediate write does not undo the final one
    assert json.loads((tmp_path / "p.json").read_text())["complete"] is True


def test_slow_requests_do_not_hold_the_rate_back_and_busy_slots_are_counted(tmp_path, clouds):
    nova = FakeNova()
    real = nova.request

    def slow(path, method, **kwargs):
        if path == "/os-services":
            time.sleep(0.5)
        return real(path, method, **kwargs)

    nova.request = slow
    p = _probe(tmp_path, clouds, nova, "--rate", "20", "--max-seconds", "1.5", "--workers", "2")
    p.t0 = time.monotonic()
    p.run_load()
    data = p.result(complete=True)
    # a third of the reads take 0.5 s on 2 workers: some slots find no free worker and are counted as skipped
    assert data["requests"]["skipped_slots"] > 0
    assert data["requests"]["load_sent"] + data["requests"]["skipped_slots"] >= 28
    assert data["requests"]["failed"] == 0


def test_a_vanished_server_fails_once_and_leaves_the_pool(tmp_path, clouds):
    nova = FakeNova(servers=("s1",))
    p = _probe(tmp_path, clouds, nova)
    del nova.servers["s1"]
    p._read("server_get", "/servers/s1", "s1")  # pylint: disable=protected-access
    assert p.records[-1]["kind"] == "http_404"
    assert p.rotation.server_ids == []
    assert "dropped from the pool" in p.notes[0]


def test_cycles_boot_wait_delete_and_record_hosts(tmp_path, clouds):
    nova = FakeNova(build_polls=2, delete_polls=2)
    p = _probe(tmp_path, clouds, nova, "--cycles", "2")
    p.image_id, p.flavor_id = "img", "flv"
    p.run_cycles()
    assert [c["status"] for c in p.cycles] == ["ok", "ok"]
    assert [c["host"] for c in p.cycles] == ["cmp1", "cmp2"]
    assert all(c["boot_s"] is not None and c["delete_s"] is not None for c in p.cycles)
    assert p.cycles[0]["name"] == f"probe-{p.run}-1"
    assert p.created == {}
    assert not [s for s in nova.servers if s.startswith("new-")]
    names = [r["name"] for r in p.records]
    assert names.count("boot_create") == 2 and names.count("delete") == 2
    assert all(r["ok"] for r in p.records)  # the 404 that ends a delete is expected


def test_a_cycle_whose_server_goes_to_error_fails_and_is_deleted(tmp_path, clouds):
    nova = FakeNova(error_on_boot=True)
    p = _probe(tmp_path, clouds, nova, "--cycles", "1")
    p.run_cycles()
    (cyc,) = p.cycles
    assert cyc["status"] == "failed" and "No valid host was found." in cyc["error"]
    assert "new-1" not in nova.servers


def test_a_cycle_that_does_not_go_active_in_time_fails(tmp_path, clouds):
    nova = FakeNova(build_polls=10 ** 6)
    p = _probe(tmp_path, clouds, nova, "--cycles", "1", "--boot-timeout", "0.2")
    p.run_cycles()
    (cyc,) = p.cycles
    assert cyc["status"] == "failed" and "not ACTIVE within 0.2 s" in cyc["error"]
    assert "new-1" not in nova.servers  # deleted after the timeout


def test_a_cycle_whose_delete_fails_reports_it_without_waiting_for_the_timeout(tmp_path, clouds):
    nova = FakeNova(delete_fails=True)
    p = _probe(tmp_path, clouds, nova, "--cycles", "1", "--delete-timeout", "60")
    t = time.monotonic()
    p.run_cycles()
    assert time.monotonic() - t < 5
    (cyc,) = p.cycles
    assert cyc["status"] == "failed" and cyc["error"] == "delete failed, server in ERROR: disk busy"
    assert p.created == {"new-1": f"{p.prefix}1"}  # left for the cleanup at exit


def test_a_failed_boot_request_fails_the_cycle(tmp_path, clouds):
    nova = FakeNova()
    nova.fail[("POST", "/servers")] = [500]
    p = _probe(tmp_path, clouds, nova, "--cycles", "1")
    p.run_cycles()
    assert p.cycles[0]["status"] == "failed" and "answered 500" in p.cycles[0]["error"]
    assert p.result(complete=True)["requests"]["failures_by_kind"] == {"http_500": 1}


def test_cycles_follow_the_cycle_while_file(tmp_path, clouds):
    nova = FakeNova()
    flag = tmp_path / "rolling"
    p = _probe(tmp_path, clouds, nova, "--cycle-while-file", str(flag))
    thread = threading.Thread(target=p.run_cycles)
    thread.start()
    time.sleep(0.2)
    assert p.cycles == []  # no file, no cycle
    flag.touch()
    deadline = time.monotonic() + 5
    while len(p.cycles) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    flag.unlink()
    time.sleep(0.3)
    count = len(p.cycles)
    time.sleep(0.2)
    assert len(p.cycles) == count  # no new cycle once the file is gone
    p.request_stop("test")
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert count >= 3 and all(c["status"] == "ok" for c in p.cycles)


def test_cleanup_deletes_this_runs_leftovers_only(tmp_path, clouds):
    nova = FakeNova(servers=("s1",), delete_polls=0)
    p = _probe(tmp_path, clouds, nova, "--cycles", "1")
    # a server the probe knows of, one whose POST answer was lost, and another run's server
    nova.servers["k"] = {"id": "k", "name": f"{p.prefix}1", "status": "ACTIVE"}
    nova.servers["lost"] = {"id": "lost", "name": f"{p.prefix}2", "status": "BUILD"}
    nova.servers["other"] = {"id": "other", "name": "probe-zzzzzz-1", "status": "ACTIVE"}
    p.created = {"k": f"{p.prefix}1"}
    p.cleanup_servers()
    assert sorted(nova.servers) == ["other", "s1"]
    assert sorted(p.cleanup["deleted"]) == [f"{p.prefix}1", f"{p.prefix}2"]
    assert p.cleanup["left"] == []
    assert ("GET", "/servers", {"name": "^" + p.prefix}) in nova.calls


def test_cleanup_reports_what_it_could_not_delete(tmp_path, clouds):
    nova = FakeNova(delete_polls=10 ** 6)
    p = _probe(tmp_path, clouds, nova, "--cycles", "1", "--cleanup-timeout", "0.2")
    nova.servers["k"] = {"id": "k", "name": f"{p.prefix}1", "status": "ACTIVE"}
    p.cleanup_servers()
    assert p.cleanup["left"] == [f"{p.prefix}1 (k)"]


def test_anchor_is_booted_when_no_server_exists_and_deleted_at_the_end(tmp_path, clouds):
    nova = FakeNova(servers=(), build_polls=2, delete_polls=1)
    p = _probe(tmp_path, clouds, nova)
    p.image_id, p.flavor_id = "img", "flv"
    assert p._pre_existing_servers() == []  # pylint: disable=protected-access
    sid = p._boot_anchor()  # pylint: disable=protected-access
    assert nova.servers[sid]["name"] == f"{p.prefix}anchor" and nova.servers[sid]["status"] == "ACTIVE"
    assert "booted" in p.notes[0]
    p.cleanup_servers()
    assert nova.servers == {}
    assert p.cleanup == {"deleted": [f"{p.prefix}anchor"], "left": []}


def test_anchor_that_goes_to_error_is_a_setup_error(tmp_path, clouds):
    nova = FakeNova(servers=(), error_on_boot=True)
    p = _probe(tmp_path, clouds, nova)
    p.image_id, p.flavor_id = "img", "flv"
    with pytest.raises(probe.SetupError, match="did not go ACTIVE .last status ERROR.; give --anchor never"):
        p._boot_anchor()  # pylint: disable=protected-access
    p.cleanup_servers()
    assert nova.servers == {}


def test_pre_existing_servers_oldest_active_first_without_probe_servers(tmp_path, clouds):
    nova = FakeNova(servers=())
    nova.servers = {
        "new": {"id": "new", "name": "b", "status": "ACTIVE", "created": "2026-11-23T02:00:00Z"},
        "old": {"id": "old", "name": "a", "status": "ACTIVE", "created": "2026-11-22T02:00:00Z"},
        "err": {"id": "err", "name": "c", "status": "ERROR", "created": "2026-11-21T02:00:00Z"},
        "prb": {"id": "prb", "name": "probe-aaaaaa-anchor", "status": "ACTIVE", "created": "2026-11-20T02:00:00Z"},
    }
    p = _probe(tmp_path, clouds, nova, "--server-pool", "5")
    assert p._pre_existing_servers() == ["old", "new"]  # pylint: disable=protected-access


def test_main_writes_result_and_exit_2_when_the_cloud_is_unknown(tmp_path, clouds, capsys):
    out = tmp_path / "p.json"
    rc = probe.main(["--out", str(out), "--clouds-yaml", str(clouds), "--cloud", "nosuchcloud"])
    assert rc == 2
    data = json.loads(out.read_text())
    assert data["complete"] is True and data["stop_reason"] == "setup-error"
    assert "nosuchcloud" in data["error"]
    assert "nosuchcloud" in capsys.readouterr().err


# --- read-backs through every API node, compute-synchronous calls ------------------------------------

def test_read_back_reaches_every_api_node_and_counts_a_node_that_fails(tmp_path, clouds):
    # the mixed API tier of issue 8/17: an old node cannot read a server the new one created (HTTP 500)
    nova = FakeNova(nodes=("ctl1", "ctl2"), node_status={"ctl2": 500})
    p = _probe(tmp_path, clouds, nova, "--cycles", "1", "--api-node", "ctl1", "--api-node", "ctl2")
    p.image_id, p.flavor_id = "img", "flv"
    p.run_cycles()
    (cyc,) = p.cycles
    assert cyc["read_back"].get("ctl1") == 200 and cyc["read_back"].get("ctl2") == 500, cyc["read_back"]
    assert cyc["read_back_missing"] == []
    data = p.result(complete=True)
    failed = [r for r in data["records"] if not r["ok"]]
    assert failed and all(r["served_by"] == "ctl2" for r in failed), failed
    assert data["requests"]["failed"] == len(failed)
    assert data["cycles"]["read_backs_by_api_node"]["ctl2"]["failed"] >= 1
    assert data["cycles"]["read_backs_by_api_node"]["ctl1"]["failed"] == 0


def test_read_back_is_bounded_and_names_a_node_that_never_answered(tmp_path, clouds):
    nova = FakeNova(nodes=("ctl1",))  # ctl2 is out of the load balancer
    p = _probe(tmp_path, clouds, nova, "--cycles", "1", "--api-node", "ctl1", "--api-node", "ctl2")
    p.image_id, p.flavor_id = "img", "flv"
    p.run_cycles()
    (cyc,) = p.cycles
    assert cyc["status"] == "ok" and cyc["read_back"] == {"ctl1": 200} and cyc["read_back_missing"] == ["ctl2"]
    assert [r["name"] for r in p.records].count("read_back") == 2 * probe.READ_BACK_TRIES_PER_NODE


def test_no_read_back_without_api_nodes(tmp_path, clouds):
    nova = FakeNova()
    p = _probe(tmp_path, clouds, nova, "--cycles", "1")
    p.image_id, p.flavor_id = "img", "flv"
    p.run_cycles()
    assert "read_back" not in [r["name"] for r in p.records] and "read_back" not in p.cycles[0]


def test_servers_detail_reads_every_project(tmp_path, clouds):
    nova = FakeNova()
    p = _probe(tmp_path, clouds, nova)
    p._read("servers_detail", "/servers/detail", None)  # pylint: disable=protected-access
    assert nova.calls[-1] == ("GET", "/servers/detail", {"all_tenants": 1})


MESSAGING_TIMEOUT = ('{"computeFault": {"code": 500, "message": "Unexpected API Error. Please report this at '
                     'http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\\n<class '
                     "'oslo_messaging.exceptions.MessagingTimeout'>\"}}")


@pytest.mark.parametrize("name,status,detail,ok,kind", [
    ("hypervisors_detail", 500, MESSAGING_TIMEOUT, False, "compute_rpc_timeout"),
    ("hypervisors_detail", 500, "NoValidHost", False, "http_500"),
    ("hypervisors_detail", 503, MESSAGING_TIMEOUT, False, "http_503"),
    ("servers_detail", 500, MESSAGING_TIMEOUT, False, "http_500"),
    ("hypervisors_detail", 200, None, True, "ok"),
])
def test_classify_compute_rpc_timeout(name, status, detail, ok, kind):
    assert probe.classify(name, status, None, detail=detail) == (ok, kind)


def test_compute_rpc_timeouts_are_counted_apart_and_other_failures_are_not(tmp_path, clouds):
    class Nova(FakeNova):
        answers = [(500, MESSAGING_TIMEOUT), (500, "other"), (200, "")]

        def request(self, path, method, **kwargs):
            if path == "/os-hypervisors/detail":
                assert kwargs["timeout"] == 90.0 and kwargs["microversion"] == "2.88"
                status, text = self.answers.pop(0) if self.answers else (200, "")
                if not self.answers:
                    p.request_stop("test")
                return _Resp(status, {"hypervisors": []} if status == 200 else None, text=text)
            return super().request(path, method, **kwargs)

    nova = Nova()
    p = _probe(tmp_path, clouds, nova, "--hypervisors-interval", "0.01")
    p.compute_sync_loop()
    data = p.result(complete=True)
    req = data["requests"]
    assert (req["compute_sync_sent"], req["compute_rpc_timeouts"], req["failed"]) == (3, 1, 1), req
    assert req["failures_by_kind"] == {"http_500": 1}
    assert len(req["compute_rpc_timeouts_at"]) == 1
    assert "MessagingTimeout" in probe.summary_text(data)


def test_parse_args_refuses_bad_api_node_and_hypervisor_values(tmp_path, clouds, capsys):
    for extra, message in ((["--api-node", "ctl 1"], "is not a load balancer server name"),
                           (["--hypervisors-interval", "-1"], "--hypervisors-interval -1 is out of range"),
                           (["--hypervisors-timeout", "0"], "--hypervisors-timeout 0 is out of range")):
        with pytest.raises(SystemExit):
            probe.parse_args(["--out", str(tmp_path / "p.json"), "--clouds-yaml", str(clouds), *extra])
        assert message in capsys.readouterr().err
