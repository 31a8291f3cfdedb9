"""The Python package against HuggingFace's own outputs in the fixtures
(tests/fixtures/llama32: generated_ids, logits), with f32 plans, where mgc
matches HF exactly in argmax and to ~1e-5 in logits.  Run with Debian's
python3 from anywhere: python3 -m unittest discover -s python/tests."""
import json
import os
import shutil
import struct
import tempfile
import unittest

import mgc

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(REPO, "tests", "fixtures", "llama32")
REF = os.path.join(FIX, "reference.safetensors")
SPEC = os.path.join(REPO, "graphs", "meta-llama", "Llama-3.2-1B", "t3000.graph")


def read_tensor(path, name):
    """A tensor of a safetensors file as a flat list (I64 or F32) and its shape."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    t = h[name]
    s, e = t["data_offsets"]
    fmt = {"I64": "q", "F32": "f"}[t["dtype"]]
    size = struct.calcsize(fmt)
    return list(struct.unpack("<%d%s" % ((e - s) // size, fmt), b[8 + n + s:8 + n + e])), t["shape"], h


class FixtureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plan = mgc.compile(SPEC, model=FIX, weights_dtype="f32", activations_dtype="f32")
        cls.model = mgc.Model(cls.plan, FIX)
        ids, _, h = read_tensor(REF, "input_ids")
        cls.gen, _, _ = read_tensor(REF, "generated_ids")
        cls.prompt = ids[:int(h["__metadata__"]["prompt_len"])]
        cls.ids = ids

    def test_plan(self):
        self.assertEqual(self.plan.model_name, "meta-llama/Llama-3.2-1B")
        self.assertEqual(self.plan.system, "t3000")
        self.assertEqual(self.plan.devices, 8)
        again = mgc.Plan.from_yaml(self.plan.yaml)
        self.assertEqual(again.yaml, self.plan.yaml)

    def test_generate_matches_hf(self):
        out = self.model.generate(self.prompt, max_new_tokens=len(self.gen))
        self.assertEqual(out.ids, self.gen)
        self.assertEqual(out.sequence, self.prompt + self.gen)
        self.assertIsNone(out.text)  # the fixture has no tokenizer

    def test_stop_token_is_kept_and_ends(self):
        stop = self.gen[5]
        first = self.gen.index(stop)
        out = self.model.generate(self.prompt, max_new_tokens=len(self.gen), stop=[stop])
        self.assertEqual(out.ids, self.gen[:first + 1])

    def test_sampling_is_reproducible(self):
        a = self.model.generate(self.prompt, max_new_tokens=8, temperature=1.0, top_k=50, seed=7)
        b = self.model.generate(self.prompt, max_new_tokens=8, temperature=1.0, top_k=50, seed=7)
        self.assertEqual(a.ids, b.ids)

    def test_eval_matches_hf(self):
        m = self.model.eval(REF)
        self.assertEqual(m["model"], "meta-llama/Llama-3.2-1B")
        self.assertEqual(m["tokens"], len(self.ids))
        self.assertEqual(m["top1"], 1.0)
        self.assertEqual(m["top5"], 1.0)
        self.assertGreater(m["pcc_min"], 0.99999)

    def test_logits_match_hf(self):
        ref, shape, _ = read_tensor(REF, "logits")
        vocab = shape[1]
        ours = self.model.logits(self.ids)
        rows = ours.tolist() if hasattr(ours, "tolist") else ours
        self.assertEqual(len(rows), len(self.ids))
        scale = max(abs(x) for x in ref)
        worst = max(abs(rows[i][j] - ref[i * vocab + j]) for i in range(len(rows)) for j in range(vocab))
        self.assertLess(worst, 1e-4 * scale)


class TextTest(unittest.TestCase):
    """A model directory with a tokenizer: text in, text out, streamed."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        for f in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(FIX, f), cls.dir)
        # the test tokenizer, its vocabulary filled up to the model's 512 ids
        with open(os.path.join(REPO, "tests", "tokenizer", "tiny_sentencepiece.json")) as f:
            tok = json.load(f)
        vocab = tok["model"]["vocab"]
        used = set(vocab.values()) | {t["id"] for t in tok.get("added_tokens", [])}
        for i in range(512):
            if i not in used:
                vocab["\u2581w%d" % i] = i
        with open(os.path.join(cls.dir, "tokenizer.json"), "w") as f:
            json.dump(tok, f)
        cls.plan = mgc.compile(SPEC, model=cls.dir, weights_dtype="f32", activations_dtype="f32")
        cls.model = mgc.Model(cls.plan, cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_text_prompt_and_streaming(self):
        tok = self.model.tokenizer
        self.assertIsNotNone(tok)
        pieces = []
        out = self.model.generate("It was the best of times", max_new_tokens=12, streamer=pieces.append)
        self.assertEqual(out.sequence[:len(out.sequence) - len(out.ids)], tok.encode("It was the best of times"))
        # the same ids as from the ids themselves
        again = self.model.generate(tok.encode("It was the best of times"), max_new_tokens=12)
        self.assertEqual(out.ids, again.ids)
        self.assertEqual(out.text, tok.decode(out.ids))
        self.assertEqual("".join(pieces), out.text)
        self.assertGreater(len(pieces), 1)

    def test_streamer_exception_propagates(self):
        def boom(_):
            raise KeyError("stop")
        with self.assertRaises(KeyError):
            self.model.generate([1, 2, 3], max_new_tokens=4, streamer=boom)


class BadInputTest(unittest.TestCase):
    def test_missing_spec(self):
        with self.assertRaises(mgc.Error) as cm:
            mgc.compile("/nonexistent/x.graph", model=FIX)
        self.assertIn("/nonexistent/x.graph", str(cm.exception))
        self.assertEqual(cm.exception.code, 1)

    def test_broken_spec_names_the_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".graph", delete=False) as f:
            f.write('model "x" on t3000\nforward(tokens) {\n  return nosuchop(tokens)\n}\n')
        try:
            with self.assertRaises(mgc.Error) as cm:
                mgc.compile(f.name, model=FIX)
            self.assertIn(f.name + ":", str(cm.exception))
        finally:
            os.unlink(f.name)

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            mgc.compile(SPEC, model=FIX, no_such_option=1)
        with self.assertRaises(mgc.Error) as cm:
            mgc.compile(SPEC, model=FIX, weights_dtype="f16")
        self.assertEqual(cm.exception.code, 2)
        plan = mgc.compile(SPEC, model=FIX)
        with self.assertRaises(mgc.Error) as cm:
            mgc.Model(plan, FIX, mesh="cloud")
        self.assertIn("cloud", str(cm.exception))
        with self.assertRaises(mgc.Error):
            mgc.Model(plan, "/nonexistent/model")
        with self.assertRaises(mgc.Error):
            mgc.Plan.from_yaml("a: [")
        model = mgc.Model(plan, FIX)
        with self.assertRaises(mgc.Error) as cm:
            model.generate([1, 99999], max_new_tokens=2)
        self.assertIn("99999", str(cm.exception))
        with self.assertRaises(mgc.Error):
            model.generate("text needs a tokenizer")
        with self.assertRaises(mgc.Error):
            model.eval("/nonexistent/ref.safetensors")


if __name__ == "__main__":
    unittest.main()
