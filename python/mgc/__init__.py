"""mgc: compile LLM graph specs into plans for a device mesh, run them, and
evaluate them against HuggingFace references, from Python.

    import mgc
    plan = mgc.compile("graphs/meta-llama/Llama-3.2-1B/t3000.graph", model="tests/fixtures/llama32")
    model = mgc.Model(plan, "tests/fixtures/llama32")
    out = model.generate([1, 2, 3], max_new_tokens=8)
    out.ids, out.sequence, out.text
    model.eval("tests/fixtures/llama32/reference.safetensors")["top1"]

Every failure of the library raises mgc.Error with its message (naming the
file and the cause).  A Model is not safe to use from two threads at once;
different models are.
"""
import ctypes
import os
from ctypes import byref, c_float, c_int, c_int32, c_size_t, c_void_p

from . import _lib
from ._lib import lib as _c

__all__ = ["Error", "Plan", "Model", "Tokenizer", "GenerateOutput", "compile", "load_plan", "version", "data_dir"]


class Error(Exception):
    """An error reported by libmgc.  `code` is the mgc_code (1 bad input,
    2 bad argument, 3 out of memory, 4 unsupported, 5 cancelled)."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def _check(rc, st):
    if rc != 0:
        raise Error(st.message.decode("utf-8", "replace"), rc)


def _b(s):
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else s.encode() if isinstance(s, str) else s


def version():
    """The loaded library's version string."""
    return _c.mgc_version().decode()


def data_dir():
    """Where the systems and bundled specs are found (see mgc_data_dir in mgc.h)."""
    return _c.mgc_data_dir().decode()


class Plan:
    """A compiled spec: immutable, may be loaded onto any number of models."""

    def __init__(self, handle):
        self._h = ctypes.c_void_p(handle)

    def __del__(self):
        if getattr(self, "_h", None) and _c is not None:
            _c.mgc_plan_destroy(self._h)
            self._h = None

    def _str(self, f):
        return f(self._h).decode()

    @property
    def model_name(self):
        return self._str(_c.mgc_plan_model_name)

    @property
    def system(self):
        return self._str(_c.mgc_plan_system)

    @property
    def devices(self):
        return _c.mgc_plan_devices(self._h)

    @property
    def weights_dtype(self):
        return self._str(_c.mgc_plan_weights_dtype)

    @property
    def activations_dtype(self):
        return self._str(_c.mgc_plan_activations_dtype)

    def save(self, path):
        """Writes the plan's YAML to `path` (atomically)."""
        st = _lib.Status()
        _check(_c.mgc_plan_save(self._h, _b(os.fspath(path)), byref(st)), st)

    @property
    def yaml(self):
        st = _lib.Status()
        buf, n = c_void_p(), c_size_t()
        _check(_c.mgc_plan_yaml(self._h, byref(buf), byref(n), byref(st)), st)
        try:
            return ctypes.string_at(buf, n.value).decode()
        finally:
            _c.mgc_free(buf)

    @classmethod
    def from_yaml(cls, text, label="(plan text)"):
        data = text.encode() if isinstance(text, str) else text
        st, h = _lib.Status(), c_void_p()
        _check(_c.mgc_plan_from_yaml(_b(label), data, len(data), byref(h), byref(st)), st)
        return cls(h.value)

    def __repr__(self):
        return "<mgc.Plan %s on %s (%d devices)>" % (self.model_name, self.system, self.devices)


_COMPILE_OPTIONS = ("systems_dir", "max_seq_len", "batch", "weights_dtype", "activations_dtype")


def compile(spec, model=None, config=None, system=None, **options):
    """Compiles a graph spec against a model directory (its config.json, and
    its checkpoint's tensors checked) or a config.json alone, for `system`
    (default: the spec's).  Options: max_seq_len, batch, weights_dtype
    ("f32", "bf16", "bf8_b", "bf4_b"), activations_dtype ("f32", "bf16"),
    systems_dir.  Returns a Plan; raises Error with every diagnostic."""
    unknown = set(options) - set(_COMPILE_OPTIONS)
    if unknown:
        raise TypeError("compile() got unknown options: %s (known: %s)" %
                        (", ".join(sorted(unknown)), ", ".join(_COMPILE_OPTIONS)))
    o = _lib.CompileOptions()
    _c.mgc_compile_options_init(byref(o))
    keep = [_b(os.fspath(spec)), _b(model and os.fspath(model)), _b(config and os.fspath(config)), _b(system)]
    o.spec, o.model_dir, o.config, o.system = keep
    for k in ("systems_dir", "weights_dtype", "activations_dtype"):
        if options.get(k) is not None:
            v = _b(os.fspath(options[k]) if k == "systems_dir" else options[k])
            keep.append(v)
            setattr(o, k, v)
    o.max_seq_len = int(options.get("max_seq_len") or 0)
    o.batch = int(options.get("batch") or 0)
    st, h = _lib.Status(), c_void_p()
    _check(_c.mgc_plan_compile(byref(o), byref(h), byref(st)), st)
    return Plan(h.value)


def load_plan(path):
    """Reads a plan file (written by Plan.save or `mgc compile`)."""
    st, h = _lib.Status(), c_void_p()
    _check(_c.mgc_plan_load(_b(os.fspath(path)), byref(h), byref(st)), st)
    return Plan(h.value)


def _ids(seq):
    seq = [int(x) for x in seq]
    return (c_int32 * max(len(seq), 1))(*seq), len(seq)


class Tokenizer:
    """A HuggingFace tokenizer.json (immutable; safe to share between threads)."""

    def __init__(self, path=None, _borrowed=None, _owner=None):
        if _borrowed is not None:
            self._h, self._own, self._owner = c_void_p(_borrowed), False, _owner
            return
        st, h = _lib.Status(), c_void_p()
        _check(_c.mgc_tokenizer_load(_b(os.fspath(path)), byref(h), byref(st)), st)
        self._h, self._own = h, True

    def __del__(self):
        if getattr(self, "_own", False) and self._h and _c is not None:
            _c.mgc_tokenizer_destroy(self._h)
            self._h = None

    def encode(self, text, add_special_tokens=True):
        data = text.encode("utf-8")
        st, buf, n = _lib.Status(), c_void_p(), c_size_t()
        _check(_c.mgc_tokenize(self._h, data, len(data), int(add_special_tokens), byref(buf), byref(n), byref(st)),
               st)
        try:
            return list(ctypes.cast(buf, ctypes.POINTER(c_int32))[:n.value])
        finally:
            _c.mgc_free(buf)

    def decode(self, ids, skip_special_tokens=False):
        arr, n = _ids(ids)
        st, buf, length = _lib.Status(), c_void_p(), c_size_t()
        _check(_c.mgc_detokenize(self._h, arr, n, int(skip_special_tokens), byref(buf), byref(length), byref(st)), st)
        try:
            return ctypes.string_at(buf, length.value).decode("utf-8")
        finally:
            _c.mgc_free(buf)

    @property
    def bos_token_id(self):
        v = _c.mgc_tokenizer_bos(self._h)
        return None if v < 0 else v

    @property
    def eos_token_id(self):
        v = _c.mgc_tokenizer_eos(self._h)
        return None if v < 0 else v

    def __len__(self):
        return _c.mgc_tokenizer_vocab(self._h)


class GenerateOutput:
    """What Model.generate returns: `ids` the new tokens, `sequence` the prompt
    followed by them (what HF's generate() returns), `text` the new tokens
    decoded (HF's decode, special tokens kept; None without a tokenizer)."""

    def __init__(self, prompt_ids, ids, text):
        self.ids, self.sequence, self.text = ids, list(prompt_ids) + ids, text

    def __repr__(self):
        return "GenerateOutput(ids=%r, text=%r)" % (self.ids, self.text)


class Model:
    """A plan loaded onto a mesh with the checkpoint in `model_dir`.

    mesh="local" (default): every device a thread of this process, sharing
    n_cores cores (0: all).  mesh="mpi": run the script under
    `mpirun -np DEVICES`; every rank constructs the Model with the same plan,
    only rank 0 gets past the constructor (the others serve it and exit with
    status 0 when rank 0's Model is closed); n_cores is then each rank's
    threads (0: 1).
    """

    def __init__(self, plan, model_dir, mesh="local", n_cores=0):
        if not isinstance(plan, Plan):
            plan = load_plan(plan)
        o = _lib.ModelOptions()
        _c.mgc_model_options_init(byref(o))
        o.mesh, o.n_cores = _b(mesh), int(n_cores)
        st, h = _lib.Status(), c_void_p()
        _check(_c.mgc_model_load(plan._h, _b(os.fspath(model_dir)), byref(o), byref(h), byref(st)), st)
        self._h = h
        self.plan = plan
        t = _c.mgc_model_tokenizer(h)
        self.tokenizer = Tokenizer(_borrowed=t, _owner=self) if t else None

    def __del__(self):
        if getattr(self, "_h", None) and _c is not None:
            _c.mgc_model_destroy(self._h)
            self._h = None

    @property
    def vocab_size(self):
        return _c.mgc_model_vocab(self._h)

    @property
    def max_seq_len(self):
        return _c.mgc_model_max_seq_len(self._h)

    @property
    def eos_token_ids(self):
        buf = (c_int32 * 16)()
        n = _c.mgc_model_eos_ids(self._h, buf, 16)
        return list(buf[:min(n, 16)])

    def _prompt(self, prompt):
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise Error("a text prompt needs the model directory's tokenizer.json; give token ids", 2)
            return self.tokenizer.encode(prompt)
        return [int(x) for x in prompt]

    def _stop_ids(self, stop):
        if stop is None:
            return []
        if isinstance(stop, (int, str)):
            stop = [stop]
        out = []
        for s in stop:
            if isinstance(s, str):
                ids = self.tokenizer.encode(s, add_special_tokens=False) if self.tokenizer else []
                if len(ids) != 1:
                    raise Error("stop string %r is not one token of this model's tokenizer" % s, 2)
                out.append(ids[0])
            else:
                out.append(int(s))
        return out

    def generate(self, prompt, max_new_tokens=32, temperature=0.0, top_k=0, top_p=1.0, seed=0, stop=None,
                 ignore_eos=False, streamer=None):
        """Generates from `prompt` (text, through the tokenizer, or token ids)
        as HF's generate(): greedy by default, sampling with temperature > 0.
        Stops at the model's EOS ids (unless ignore_eos) or at `stop` (ids, or
        strings that are single tokens); the stop token is kept.  `streamer`,
        if given, is called with each new piece of text as it is generated.
        Returns a GenerateOutput."""
        ids = self._prompt(prompt)
        parr, n = _ids(ids)
        o = _lib.GenerateOptions()
        _c.mgc_generate_options_init(byref(o))
        o.max_new_tokens, o.temperature, o.top_k, o.top_p = int(max_new_tokens), float(temperature), int(top_k), \
            float(top_p)
        o.seed, o.ignore_eos = int(seed), int(bool(ignore_eos))
        stops = self._stop_ids(stop)
        sarr, ns = _ids(stops)
        o.stop_ids, o.n_stop_ids = ctypes.cast(sarr, ctypes.POINTER(c_int32)), ns
        failure = []

        def on_token(_ud, token, text):
            try:
                if text:
                    streamer(text.decode("utf-8"))
                return 0
            except BaseException as e:  # stop generating, re-raise below
                failure.append(e)
                return 1

        if streamer is not None:
            cb = _lib.TOKEN_CALLBACK(on_token)
            o.on_token = cb
        out = (c_int32 * max(int(max_new_tokens), 1))()
        n_out = c_int()
        st = _lib.Status()
        rc = _c.mgc_generate(self._h, parr, n, byref(o), out, byref(n_out), byref(st))
        if failure:
            raise failure[0]
        _check(rc, st)
        new = list(out[:n_out.value])
        text = self.tokenizer.decode(new) if self.tokenizer is not None else None
        return GenerateOutput(ids, new, text)

    def logits(self, ids):
        """The logits of one forward over `ids` (a prefill from position 0 of
        user 0's cache): a numpy array [len(ids), vocab] when numpy is
        installed, else a list of lists."""
        ids = self._prompt(ids)
        arr, n = _ids(ids)
        vocab = self.vocab_size
        buf = (c_float * (n * vocab))()
        st = _lib.Status()
        _check(_c.mgc_model_prefill(self._h, 0, arr, n, 0, buf, byref(st)), st)
        try:
            import numpy
        except ImportError:
            return [list(buf[i * vocab:(i + 1) * vocab]) for i in range(n)]
        return numpy.frombuffer(buf, dtype=numpy.float32).reshape(n, vocab).copy()

    def eval(self, reference, max_positions=0):
        """Teacher-forced evaluation against a reference file; returns the
        figures of `mgc eval`'s YT_METRICS line as a dict."""
        m = _lib.EvalMetrics()
        st = _lib.Status()
        _check(_c.mgc_model_eval(self._h, _b(os.fspath(reference)), int(max_positions), byref(m), byref(st)), st)
        p = self.plan
        d = {"model": p.model_name, "system": p.system, "weights_dtype": p.weights_dtype,
             "activations_dtype": p.activations_dtype}
        for name, _ in _lib.EvalMetrics._fields_:
            d[name] = getattr(m, name)
        return d
