"""The command's progress view hears of every video's download, the second to fourth of a
job's several videos included, and a port without them is shown as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from veo3_adapter import FakeVeo3Adapter, GenerationOptions, Veo3Orchestrator
from veo3_adapter.cli._events import watch


class RecordingView:
    mode = "lines"

    def __init__(self) -> None:
        self.downloads: list[str] = []

    def download_started(self, variant: str) -> None:
        self.downloads.append(variant)

    def polled(self, job: Any, *, answered: bool) -> None:
        return None


def test_each_video_of_a_job_is_announced_as_its_download_starts(tmp_path: Path) -> None:
    view = RecordingView()
    port = watch(FakeVeo3Adapter(), view)  # type: ignore[arg-type]
    orchestrator = Veo3Orchestrator(port, tmp_path, poll_interval=0, sleep=lambda _s: None)

    (job,) = orchestrator.run(
        {"intro": "a boat"}, options={"intro": GenerationOptions(number_of_videos=3)}
    )

    assert len(job.clip_paths) == 3 and all(Path(p).is_file() for p in job.clip_paths)
    assert view.downloads == ["intro", "intro", "intro"]


def test_a_port_without_several_videos_is_not_given_them_by_the_view() -> None:
    class OneVideoPort:
        def download_clip(self, job: Any, dest: Path) -> Path:
            return dest

    watched = watch(OneVideoPort(), RecordingView())  # type: ignore[arg-type]

    assert not hasattr(watched, "download_sample")
