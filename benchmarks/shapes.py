"""The parameter sets the benchmark steps: single large tensors and GPT-2 small's list of tensors."""

from __future__ import annotations

import re

Shape = tuple[int, ...]


def gpt2_shapes(n_layer: int = 12, n_embd: int = 768, vocab: int = 50257, n_ctx: int = 1024) -> list[Shape]:
    """GPT-2's parameters in nanoGPT's order: wte, wpe, the blocks, ln_f (148 tensors, 124M for small)."""
    block = [
        (n_embd,),  # ln_1 weight
        (n_embd,),  # ln_1 bias
        (n_embd, 3 * n_embd),  # attn.c_attn weight
        (3 * n_embd,),  # attn.c_attn bias
        (n_embd, n_embd),  # attn.c_proj weight
        (n_embd,),  # attn.c_proj bias
        (n_embd,),  # ln_2 weight
        (n_embd,),  # ln_2 bias
        (n_embd, 4 * n_embd),  # mlp.c_fc weight
        (4 * n_embd,),  # mlp.c_fc bias
        (4 * n_embd, n_embd),  # mlp.c_proj weight
        (n_embd,),  # mlp.c_proj bias
    ]
    return [(vocab, n_embd), (n_ctx, n_embd)] + block * n_layer + [(n_embd,), (n_embd,)]


#: Named model-shaped sets. ``gpt2-tiny`` keeps the structure (many small tensors) at 1/20 the size;
#: ``gpt2-mini`` keeps all 148 tensors at 1/720 the size (173K values), so that the host's work per
#: tensor, not memory, sets the step time.
MODELS: dict[str, list[Shape]] = {
    "gpt2": gpt2_shapes(),
    "gpt2-tiny": gpt2_shapes(n_layer=2, n_embd=256, vocab=8192, n_ctx=256),
    "gpt2-mini": gpt2_shapes(n_embd=32, vocab=512, n_ctx=128),
}

#: sizes whose step time is the host's work per tensor, not memory: reported, with no target
HOST_BOUND = {"gpt2-mini"}


def parse_size(spec: str) -> tuple[str, list[Shape]]:
    """``"16M"`` (one tensor of 16 * 2**20 values), ``"300K"``, ``"1000"``, or a model name."""
    spec = spec.strip()
    if spec in MODELS:
        return spec, MODELS[spec]
    match = re.fullmatch(r"(\d+)([KM]?)", spec, flags=re.IGNORECASE)
    if not match:
        raise ValueError(f"Unknown size {spec!r}: use e.g. 16M, 300K, 1000 or one of {sorted(MODELS)}")
    n = int(match.group(1)) * {"": 1, "K": 2**10, "M": 2**20}[match.group(2).upper()]
    return spec, [(n,)]


def numel(shapes: list[Shape]) -> int:
    total = 0
    for shape in shapes:
        size = 1
        for d in shape:
            size *= d
        total += size
    return total
