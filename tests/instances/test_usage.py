"""CPU and memory of an instance's process tree, sampled with psutil."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from turnout.instances.usage import Usage, UsageSampler

# A parent that idles and a child that spins: the tree's CPU is the child's.
SPIN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"
PARENT = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {SPIN!r}])\n"
    "time.sleep(30)\n"
)


def test_a_process_tree_is_sampled_whole() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        sampler = UsageSampler(total_memory=8 * 1024**3)
        samples: list[Usage] = []
        deadline = time.monotonic() + 10
        while len(samples) < 2 or samples[-1].memory_bytes < 2 * 5 * 1024**2:
            assert time.monotonic() < deadline, f"samples: {samples}"
            sample = sampler.sample(parent.pid)
            assert sample is not None
            samples.append(sample)
            time.sleep(0.5)
        time.sleep(0.5)
        usage = sampler.sample(parent.pid)
        assert usage is not None
        # The child spins: up to a whole core, less while other work shares the two cores.
        assert usage.cpu_percent > 10
        assert usage.memory_bytes > 10 * 1024**2  # two interpreters
        assert usage.memory_percent == round(100 * usage.memory_bytes / (8 * 1024**3), 2)
    finally:
        for child in psutil.Process(parent.pid).children(recursive=True):
            child.kill()  # ours: the spinning child we started through the parent
        parent.kill()
        parent.wait()
    assert sampler.sample(parent.pid) is None  # gone: no sample, nothing kept
