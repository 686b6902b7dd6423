"""Worker for tests/test_defences_training.py: adversarial training under torchrun (gloo, CPU).

Run as ``python -m torch.distributed.run --nproc_per_node=2 --standalone tests/ddp_train_worker.py OUT``;
each rank writes its final parameters and history to ``OUT/rank{r}.pt``.
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from advcourse.models.datasets import load_digits, make_loader
from advcourse.defences import train
from advcourse.models.nets import DigitsCNN


def main(out: Path) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(100 + rank)  # different local randomness per rank: DDP must still agree
    digits = load_digits()
    model = DigitsCNN(width=8)
    loader = make_loader(digits.x_train[:256], digits.y_train[:256], batch_size=32)
    history = train(model, loader, epochs=2, attack="pgd", adv_fraction=0.5, lr=3e-3, progress=False,
                    attack_params={"eps": 0.1, "step_size": 0.05, "steps": 2, "early_stop": rank == 0},
                    eval_data=(digits.x_test[:101], digits.y_test[:101]))
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save({"params": params, "history": history.__dict__, "world": dist.get_world_size(),
                "sampler": type(loader.sampler).__name__}, out / f"rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
