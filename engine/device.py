"""Which device heavy work runs on: cuda, then mps, then cpu, unless configured.

`detect_device` imports torch, so the TUI calls it from a thread after its first paint.
"""

from __future__ import annotations

import functools
import os


@functools.lru_cache(maxsize=4)
def detect_device(preference: str = "auto") -> str:
    """Returns "cuda:0", "mps" or "cpu" (or the configured device if it is available)."""
    if preference == "cpu" or os.environ.get("BETR_DEVICE") == "cpu":
        return "cpu"
    import torch

    if preference.startswith("cuda"):
        if torch.cuda.is_available():
            return preference if ":" in preference else "cuda:0"
        return "cpu"
    if preference == "mps":
        return "mps" if torch.backends.mps.is_available() else "cpu"
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


if __name__ == "__main__":
    # `python -m engine.device [PREFERENCE]`: what the TUI runs off its UI thread, since
    # importing torch takes seconds
    import sys

    print(device_label(detect_device(sys.argv[1] if len(sys.argv) > 1 else "auto")))
