#!/usr/bin/env python3
"""Make a reference file for `mgc eval --reference` with HuggingFace itself.

    scripts/hf_reference.py MODEL_DIR (--prompt TEXT | --prompt-file FILE | --tokens 1,2,3)
                            --max-new-tokens N -o REF.safetensors [--hidden-states]

MODEL_DIR is a checkpoint directory or a hub id.  The model runs in float32
with eager attention: greedy generation of exactly N tokens after the prompt
(no EOS stop), then one forward over the whole sequence for the logits (and
the hidden states).  The file's format is docs/reference-format.md.
Needs torch, transformers and safetensors (not needed by mgc itself).
"""
import argparse
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt")
    src.add_argument("--prompt-file")
    src.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--max-new-tokens", type=int, required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--hidden-states", action="store_true", help="also write hidden_states (for mgc eval --layers)")
    a = ap.parse_args()
    if a.max_new_tokens < 1:
        sys.exit("hf_reference: --max-new-tokens must be at least 1")

    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    if a.tokens:
        ids = [int(t) for t in a.tokens.split(",") if t.strip()]
    else:
        text = a.prompt if a.prompt is not None else open(a.prompt_file, encoding="utf-8").read()
        ids = AutoTokenizer.from_pretrained(a.model)(text)["input_ids"]  # with the tokenizer's BOS, as mgc's
    if not ids:
        sys.exit("hf_reference: the prompt is empty")
    prompt = torch.tensor([ids], dtype=torch.long)
    with torch.no_grad():
        seq = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=a.max_new_tokens,
                             min_new_tokens=a.max_new_tokens, do_sample=False, num_beams=1, eos_token_id=None,
                             pad_token_id=0, use_cache=True)
        out = model(seq, output_hidden_states=a.hidden_states)
    tensors = {
        "input_ids": seq[0].to(torch.int64).contiguous(),
        "logits": out.logits[0].to(torch.float32).contiguous(),
        "top5": torch.topk(out.logits[0], 5, dim=-1).indices.to(torch.int64).contiguous(),
    }
    if a.hidden_states:
        tensors["hidden_states"] = torch.stack([h[0] for h in out.hidden_states]).to(torch.float32).contiguous()
    meta = {"prompt_len": str(len(ids)), "model": str(a.model), "procedure": "greedy generate, then one forward (f32)",
            "transformers_version": transformers.__version__, "torch_version": torch.__version__}
    save_file(tensors, a.output, metadata=meta)
    print(f"hf_reference: wrote {a.output}: {seq.shape[1]} tokens, prompt {len(ids)}, vocab {out.logits.shape[-1]}")


if __name__ == "__main__":
    main()
