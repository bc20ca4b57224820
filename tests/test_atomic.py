import os
import stat
import subprocess
import sys
import textwrap

import pytest

from adamkit.atomic import atomic_open, atomic_write_text


def test_a_failure_inside_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "run.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["run.json"]


def test_a_process_killed_during_the_write_leaves_the_last_good_file(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"good")
    script = textwrap.dedent(
        f"""
        import os
        from adamkit.atomic import atomic_open
        with atomic_open({str(target)!r}, "wb") as handle:
            handle.write(b"trunc")
            handle.flush()
            os._exit(9)   # as a kill would: no clean-up runs
        """
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9
    assert target.read_bytes() == b"good"


def test_the_new_file_replaces_the_old_with_the_umask_s_permissions(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    old = os.umask(0o022)
    try:
        atomic_write_text(target, "new")
    finally:
        os.umask(old)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_read_modes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="mode 'r'"), atomic_open(tmp_path / "x", "r"):
        pass
