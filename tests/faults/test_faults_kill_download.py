"""A download SIGKILLed at 20 byte offsets: the clip is never half there, and the next run
cleans up and finishes it.

The emulator is served on loopback by this process; each download runs in a forked worker
process (see ``fork_helper.py``). The emulator holds the body after exactly N bytes, the test
waits until the worker has written what it received, and kills it there: mid-body, at N.
"""

from __future__ import annotations

import functools
import io
import os
import signal
from pathlib import Path

from _kit.adapters import AdapterFactory
from _kit.emulator import emulator_wire
from _kit.faults import ForkServer, ServedFactory, expected_clip, partials, wait_until
from _kit.sdk import before_gemini_run, run_gemini

from veo3_adapter import JobStatus, Veo3Orchestrator, read_jobs_json
from veo3_adapter.emulator import Scenario
from veo3_adapter.mp4 import is_mp4_file, sample_clip

MB = 1024 * 1024
SIZE = 3 * MB
SAMPLE = len(sample_clip())
# Inside the box header, around 'ftyp', inside and at the end of the sample clip, around the
# 4 KiB and 64 KiB boundaries, megabytes in, the last byte missing, and every byte sent.
OFFSETS = [
    0,
    1,
    7,
    8,
    SAMPLE - 1,
    SAMPLE + 4,
    4096,
    65535,
    65536,
    65537,
    100_003,
    500_000,
    MB,
    MB + 1,
    1_500_001,
    2 * MB,
    2_500_000,
    SIZE - 4096,
    SIZE - 1,
    SIZE,
]


def _no_wait(_seconds: float) -> None:
    return None


def _has_written(clips: Path, least: int) -> bool:
    """True once the worker's temporary clip file holds at least ``least`` bytes."""
    found = list(clips.glob(".clip.mp4.*.veo3-partial"))
    return bool(found) and found[0].stat().st_size >= least


def test_download_killed_at_20_offsets_never_leaves_a_partial_clip(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fork_server: ForkServer,
    api_key: str,
    tmp_path: Path,
) -> None:
    assert len(set(OFFSETS)) == 20
    # The worker's file is buffered: it may hold back up to one buffer of what it received.
    slack = max(io.DEFAULT_BUFFER_SIZE, os.statvfs(tmp_path).f_bsize)
    emulator = served(default=Scenario(video_size=SIZE, chunk_size=64 * 1024))
    adapter = make_adapter(emulator.api_base)
    wire = emulator_wire(emulator, api_key)
    killed_mid_body = 0
    for index, offset in enumerate(OFFSETS):
        out = tmp_path / f"kill-{index:02d}"
        clips = out / "veo3"
        dest = clips / "clip.mp4"
        prompt = f"a clip killed at byte {offset} [kill {index}]"
        old_clip = sample_clip() if index % 3 == 2 else None  # a clip from an earlier run
        if old_clip is not None:
            clips.mkdir(parents=True)
            dest.write_bytes(old_clip)
        hold = emulator.hold(f"[kill {index}]", offset)
        orchestrator = Veo3Orchestrator(adapter, out, poll_interval=0, sleep=_no_wait)
        before_gemini_run(orchestrator, {"clip": prompt}, wire)  # the worker runs it
        pid = fork_server.start(
            "download",
            base_url=emulator.api_base,
            key=api_key,
            out=str(out),
            variant="clip",
            prompt=prompt,
        )
        status: int | None = None
        try:
            assert hold.reached.wait(10), fork_server.log_text()
            (op_name,) = [n for n, op in emulator.operations.items() if op.prompt == prompt]
            clip = expected_clip(emulator, op_name)
            if offset < SIZE:
                # The worker has everything the server sent, bar what its buffer holds back.
                least = max(0, offset - slack)
                wait_until(
                    functools.partial(_has_written, clips, least),
                    what=f"the worker to write {offset} bytes",
                )
                (partial,) = clips.glob(".clip.mp4.*.veo3-partial")
                data = partial.read_bytes()
                assert len(data) <= offset
                assert data == clip[: len(data)]
            status = fork_server.kill(pid)
        finally:
            if status is None:  # the test failed before the kill: leave no worker behind
                fork_server.kill(pid)
            hold.release.set()
        assert status is not None
        if offset < SIZE:
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            killed_mid_body += 1

        # After the kill: the clip is absent or whole (the old one, or the new), never partial.
        if offset < SIZE:
            assert dest.read_bytes() == old_clip if old_clip else not dest.exists(), offset
            assert partials(out), "the kill left no partial file: it did not land mid-body"
        if dest.exists():
            assert dest.read_bytes() in (clip, old_clip) and is_mp4_file(dest)
        recorded = {job.variant: job for job in read_jobs_json(clips / "jobs.json")}
        assert recorded["clip"].operation_name == op_name

        # The next run removes what the killed one left and finishes the clip.
        if index % 2:
            (job,) = run_gemini(orchestrator, {"clip": prompt + " again"}, wire)
            clip = expected_clip(emulator, job.operation_name)
        else:
            (job,) = orchestrator.resume()
            assert job.operation_name == op_name
        assert job.status is JobStatus.DOWNLOADED, job.error_detail
        assert dest.read_bytes() == clip
        assert job.clip_bytes == SIZE
        assert partials(out) == []
        assert sorted(p.name for p in clips.iterdir()) == [".veo3.lock", "clip.mp4", "jobs.json"]
        assert read_jobs_json(clips / "jobs.json") == [job]
    assert killed_mid_body == 19
    assert emulator.key_leaks == []
