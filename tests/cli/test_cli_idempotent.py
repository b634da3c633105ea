"""``veo3 run`` twice on one ``--out`` pays once: clips made from the same prompt and options
are kept, recorded operations are resumed, ``--force`` generates everything again; and
``veo3 resume`` goes back to where the run was made; each run on the backend that submits
with the installed google-genai (``SUBMITS``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from _kit.cli import POLL, SUBMITS, Veo3, parse_table, write_prompts

from veo3_adapter.emulator import Emulator
from veo3_adapter.models import JobStatus
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_backend_info, read_jobs_json, write_jobs_json

TWO = 'a = "a cat"\nb = "a dog"\n'


def _operations(out: Path) -> dict[str, str]:
    return {j.variant: j.operation_name for j in read_jobs_json(out / "veo3" / "jobs.json")}


def _run(veo3: Veo3, base_url: str, *extra: str) -> tuple[int, list[str], list[str]]:
    result = veo3(
        "run", "p.toml", "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL, *extra
    )
    statuses = [r["STATUS"] for r in parse_table(result.out)]
    return result.code, result.err_lines, statuses


def test_a_second_run_submits_nothing_and_keeps_the_jobs(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_prompts(tmp_path / "p.toml", TWO)
    assert _run(veo3, base_url)[0] == 0
    first, clips = _operations(out), (out / "veo3" / "a.mp4").read_bytes()
    sent = len(emulator.operations)

    code, err, statuses = _run(veo3, base_url)

    assert code == 0
    assert err == ["veo3: 2 kept from the last run (a, b), 0 submitted"]
    assert statuses == ["downloaded", "downloaded"]
    assert len(emulator.operations) == sent
    assert _operations(out) == first
    assert (out / "veo3" / "a.mp4").read_bytes() == clips


def test_a_changed_prompt_regenerates_that_variant_only(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_prompts(tmp_path / "p.toml", TWO)
    assert _run(veo3, base_url)[0] == 0
    first = _operations(out)
    write_prompts(tmp_path / "p.toml", 'a = "a cat"\nb = "a bird"\n')

    code, err, statuses = _run(veo3, base_url)

    assert code == 0
    assert err[-1] == "veo3: 1 kept from the last run (a), 1 submitted"
    assert all(line.startswith("veo3: b: ") for line in err[:-1]), err
    assert statuses == ["downloaded", "downloaded"]
    now = _operations(out)
    assert now["a"] == first["a"] and now["b"] != first["b"]
    assert emulator.operations[now["b"]].prompt == "a bird"


def test_force_regenerates_everything(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_prompts(tmp_path / "p.toml", TWO)
    assert _run(veo3, base_url)[0] == 0
    first = _operations(out)

    code, err, statuses = _run(veo3, base_url, "--force")

    assert code == 0
    assert not any("kept" in line for line in err), err
    assert statuses == ["downloaded", "downloaded"]
    assert set(_operations(out).values()).isdisjoint(first.values())
    assert len(emulator.operations) == 4


def test_a_recorded_operation_is_resumed_not_submitted_again(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_prompts(tmp_path / "p.toml", TWO)
    assert _run(veo3, base_url)[0] == 0
    # As a run stopped while "a" was still generating leaves jobs.json.
    path = out / "veo3" / "jobs.json"
    jobs = [
        dataclasses.replace(j, status=JobStatus.SUBMITTED, video_uri="", clip_path="", clip_bytes=0)
        if j.variant == "a"
        else j
        for j in read_jobs_json(path)
    ]
    write_jobs_json(path, jobs, backend=read_backend_info(path))
    (out / "veo3" / "a.mp4").unlink()
    first = _operations(out)

    code, err, statuses = _run(veo3, base_url)

    assert code == 0
    assert err[-1] == "veo3: 1 kept from the last run (b), 1 resumed (a), 0 submitted"
    assert statuses == ["downloaded", "downloaded"]
    assert _operations(out) == first
    assert len(emulator.operations) == 2
    assert is_mp4_file(out / "veo3" / "a.mp4")


def test_quiet_prints_no_summary(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    write_prompts(tmp_path / "p.toml", TWO)
    assert _run(veo3, base_url)[0] == 0

    code, err, statuses = _run(veo3, base_url, "--quiet")

    assert (code, err, statuses) == (0, [], ["downloaded", "downloaded"])


def test_a_long_summary_names_five_variants(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    write_prompts(tmp_path / "p.toml", "".join(f'v{n} = "clip {n}"\n' for n in range(7)))
    assert _run(veo3, base_url, "-q")[0] == 0

    code, err, _ = _run(veo3, base_url)

    assert code == 0
    assert err == ["veo3: 7 kept from the last run (v0, v1, v2, v3, v4 and 2 more), 0 submitted"]


def test_resume_after_a_run_goes_back_to_the_emulator_without_base_url(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_prompts(tmp_path / "p.toml", TWO)
    assert _run(veo3, base_url)[0] == 0
    assert read_backend_info(out / "veo3" / "jobs.json")["base_url"] == base_url
    (out / "veo3" / "b.mp4").unlink()

    result = veo3("resume", "out", *POLL)

    assert result.code == 0, result
    assert "warning" not in result.err
    assert is_mp4_file(out / "veo3" / "b.mp4")
    assert SUBMITS.fetches(emulator.operations[_operations(out)["b"]]) == 2
