"""Live runs fail in one line: a region file removed under ``intervm run`` is named by
the host within seconds, and a VM whose host is gone says so in one line on stderr
instead of a ``BrokenPipeError`` traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from proc_helpers import start_cli, wait_for
from test_impl_diagnosis import RUN, committed, vms

from intervm.impl.doorbell import Doorbells, recv_frame, send_frame
from intervm.impl.host import Host, HostConfig, VmViolation
from intervm.impl.region import Region
from intervm.spec import layout as L


def test_a_region_removed_under_the_run_is_named_in_one_line(tmp_path: Path) -> None:
    cli = start_cli(RUN, tmp_path)
    wait_for("three VMs", cli, lambda: len(vms(cli)) == 3)
    path = cli.env_of(vms(cli)["consumer"], "INTERVM_REGION")
    assert path is not None
    wait_for("committed requests", cli, lambda: committed(path) > 0)
    os.unlink(path)
    code, out, err = cli.finish(timeout_s=20)  # generous: the host checks every tick
    lines = (out + err).strip().splitlines()
    assert code == 1 and len(lines) == 1, out + err
    assert lines[0].startswith(f"Error: region {path} was removed under the run (")
    assert "leave the region file alone while the VMs run" in lines[0]
    assert "Traceback" not in out + err
    assert cli.descendants() == [] and not Path(path).exists()


def test_a_vm_whose_host_is_gone_reports_in_one_line(tmp_path: Path) -> None:
    """A fake host hands the producer its config and hangs up: the producer times out
    waiting for a consumer, then cannot send its error frame (EPIPE): on main, a
    ``BrokenPipeError`` traceback."""
    region = Region.create(tmp_path / "region", 8)
    bells = Doorbells.create(d.name for d in L.build_layout(1).doorbells)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "control.sock"))
    listener.listen(1)
    listener.settimeout(30)
    env = dict(os.environ, **{L.REGION_ENV: str(tmp_path / "region"),
                              L.CONTROL_ENV: str(tmp_path / "control.sock")})
    vm = subprocess.Popen([sys.executable, "-m", "intervm.impl.vm", "producer"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        conn, _ = listener.accept()
        conn.settimeout(30)
        hello, _ = recv_frame(conn)
        assert hello["hello"] == "producer"
        cfg = {"requests": 1, "window": 1, "slice_s": 0.01, "max_slices": 5}
        send_frame(conn, cfg, [bells.fds[d.name] for d in L.build_layout(1).doorbells])
        assert recv_frame(conn)[0] == {"ready": True}
        conn.close()  # the host is gone
        out, err = vm.communicate(timeout=30)
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.communicate()
        listener.close()
        bells.close()
        region.close()
    assert out == b""
    text = err.decode()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1 and vm.returncode == 4, text
    assert lines[0].startswith(f"producer VM (pid {vm.pid}): the host's control socket is "
                               "closed (")
    assert "PeerTimeout" in lines[0]


def test_a_region_replaced_under_the_run_is_named_and_the_new_file_kept() -> None:
    with Host(HostConfig(capacity=8)) as host:  # its own region: removed at close
        consumer = host.start("consumer", {"slice_s": 0.01, "max_slices": 3000})
        path = host.region_path
        other = path.with_name(path.name + ".new")
        other.write_bytes(b"someone else's file")
        os.replace(other, path)
        with pytest.raises(VmViolation) as caught:
            host.result(consumer, timeout_s=20)
        assert consumer.ended  # stopped at once, not at close
    try:
        assert path.read_bytes() == b"someone else's file"  # not the host's to remove
    finally:
        path.unlink()
    err = caught.value
    assert (err.role, err.field) == ("host", "region_file")
    assert str(err).startswith(f"region {path} was replaced by another file under the run "
                               "(noticed by the host;")
