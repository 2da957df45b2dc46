"""Time DeOldify's generator with its spectral/weight norms as stored and folded into plain convs.

The weights are random (timing does not depend on their values), so no checkpoint is needed.
One run prints, for one input size and thread count, the median forward time of each form over
``--repeats`` calls (after one warm-up call each), the speed-up and the largest output difference
(``fold_norms`` promises <= 1e-4).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_fold.py --arch artistic --render-factor 21
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import Tensor, nn

from vidcolor.models.deoldify import PUBLISHED, fold_norms


def median_seconds(model: nn.Module, x: Tensor, repeats: int) -> tuple[float, Tensor]:
    """Median wall time of ``model(x)`` over ``repeats`` calls after a warm-up, and the output."""
    with torch.inference_mode():
        out = model(x)
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - began)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=list(PUBLISHED), default="artistic")
    parser.add_argument("--render-factor", type=int, default=21, help="input side / 16")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    side = 16 * args.render_factor
    stored = PUBLISHED[args.arch].build().eval()
    folded = fold_norms(copy.deepcopy(stored))
    x = torch.randn(args.batch, 3, side, side)
    t_stored, y_stored = median_seconds(stored, x, args.repeats)
    t_folded, y_folded = median_seconds(folded, x, args.repeats)
    print(f"{args.arch}, input {args.batch}x3x{side}x{side}, {torch.get_num_threads()} thread(s), "
          f"median of {args.repeats}, torch {torch.__version__}")  # fmt: skip
    print(f"  stored norms : {t_stored * 1e3:8.1f} ms")
    print(f"  folded       : {t_folded * 1e3:8.1f} ms  ({t_stored / t_folded:.2f}x faster)")
    print(f"  max |stored - folded| = {(y_stored - y_folded).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
