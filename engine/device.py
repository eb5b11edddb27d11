"""Which device heavy work runs on: cuda, then mps, then cpu, unless configured.

`detect_device` imports torch, so the TUI calls it from a thread after its first paint.
A device a user names is checked (`check_device_name`, when a job is queued): an unknown name
or a device this machine does not have is an error, never a silent fall back to the CPU.
"""

from __future__ import annotations

import functools
import os
import re

from engine.errors import UsageError

DEVICE_NAMES = "auto, cpu, cuda, cuda:N or mps"
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device_name(device: str) -> str:
    """`device`, or a UsageError when it is not one of DEVICE_NAMES (checked without torch)."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise UsageError(f"unknown --device '{device}'", fix=f"use {DEVICE_NAMES}")
    return device


@functools.lru_cache(maxsize=4)
def detect_device(preference: str = "auto") -> str:
    """Returns "cuda:0", "mps" or "cpu" (or the configured device); a UsageError for a device
    that is not there ("cuda" on a machine without CUDA) or not a device name."""
    check_device_name(preference)
    if preference == "cpu" or os.environ.get("BETR_DEVICE") == "cpu":
        return "cpu"
    import torch

    if preference.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(preference.partition(":")[2] or 0)
        if index >= n:
            raise UsageError(
                f"--device {preference}: "
                + (f"this machine has {n} CUDA device(s)" if n else "no CUDA device is visible"),
                fix="use --device auto (the best device there is) or --device cpu",
            )
        return preference if ":" in preference else "cuda:0"
    if preference == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(
                "--device mps: Apple's Metal (MPS) is not available here",
                fix="use --device auto or --device cpu",
            )
        return "mps"
    if torch.cuda.is_available():
        return "cuda:0"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def device_label(device: str) -> str:
    """ "cuda:0 (NVIDIA H100)" or "cpu (8 threads)": what the status line shows."""
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(int(device.partition(':')[2] or 0))})"
    if device == "cpu":
        return f"cpu ({os.cpu_count()} cores)"
    return device


def available_memory(device: str) -> int | None:
    """Bytes free on `device` now: MemAvailable on the CPU, free memory on a CUDA device;
    None when it cannot be told (mps)."""
    if device == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return None
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(int(device.partition(":")[2] or 0))[0])
    return None


if __name__ == "__main__":
    # `python -m engine.device [PREFERENCE]`: what the TUI runs off its UI thread, since
    # importing torch takes seconds
    import sys

    try:
        print(device_label(detect_device(sys.argv[1] if len(sys.argv) > 1 else "auto")))
    except UsageError as exc:
        print(exc.message, file=sys.stderr)
        sys.exit(2)
