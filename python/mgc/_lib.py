"""The ctypes declarations of include/mgc.h (kept in the header's order)."""
import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32, c_int64,
                    c_size_t, c_uint64, c_void_p)


class Status(Structure):
    _fields_ = [("code", c_int), ("message", c_char * 1024)]


class CompileOptions(Structure):
    _fields_ = [("spec", c_char_p), ("model_dir", c_char_p), ("config", c_char_p), ("system", c_char_p),
                ("systems_dir", c_char_p), ("max_seq_len", c_int64), ("batch", c_int64),
                ("weights_dtype", c_char_p), ("activations_dtype", c_char_p)]


class ModelOptions(Structure):
    _fields_ = [("mesh", c_char_p), ("n_cores", c_int), ("progress", c_int)]


TOKEN_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_int32, c_char_p)


class GenerateOptions(Structure):
    _fields_ = [("max_new_tokens", c_int), ("temperature", c_float), ("top_k", c_int), ("top_p", c_float),
                ("seed", c_uint64), ("stop_ids", POINTER(c_int32)), ("n_stop_ids", c_int),
                ("ignore_eos", c_int), ("on_token", TOKEN_CALLBACK), ("user_data", c_void_p)]


class EvalMetrics(Structure):
    _fields_ = [("tokens", c_int64), ("prompt_len", c_int64), ("top1", c_double), ("top5", c_double),
                ("pcc_min", c_double), ("pcc_mean", c_double), ("max_abs_err", c_double), ("kl_mean", c_double),
                ("perplexity", c_double), ("prefill_tok_s", c_double), ("decode_tok_s_u", c_double)]


def _find():
    path = os.environ.get("MGC_LIBRARY")
    if path:
        return ctypes.CDLL(path)
    for name in ("libmgc.so.1", ctypes.util.find_library("mgc")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                pass
    raise OSError("mgc: cannot find libmgc.so.1: install mgc (make install), run ldconfig, "
                  "or set MGC_LIBRARY to the library's path")


lib = _find()
_P = c_void_p
_S = POINTER(Status)


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_fn("mgc_version", c_char_p)
_fn("mgc_free", None, c_void_p)
_fn("mgc_compile_options_init", None, POINTER(CompileOptions))
_fn("mgc_plan_compile", c_int, POINTER(CompileOptions), POINTER(_P), _S)
_fn("mgc_plan_load", c_int, c_char_p, POINTER(_P), _S)
_fn("mgc_plan_from_yaml", c_int, c_char_p, c_char_p, c_size_t, POINTER(_P), _S)
_fn("mgc_plan_save", c_int, _P, c_char_p, _S)
_fn("mgc_plan_yaml", c_int, _P, POINTER(c_void_p), POINTER(c_size_t), _S)
_fn("mgc_plan_destroy", None, _P)
for _name in ("mgc_plan_model_name", "mgc_plan_system", "mgc_plan_weights_dtype", "mgc_plan_activations_dtype"):
    _fn(_name, c_char_p, _P)
_fn("mgc_plan_devices", c_int, _P)
_fn("mgc_data_dir", c_char_p)
_fn("mgc_model_options_init", None, POINTER(ModelOptions))
_fn("mgc_model_load", c_int, _P, c_char_p, POINTER(ModelOptions), POINTER(_P), _S)
_fn("mgc_model_destroy", None, _P)
_fn("mgc_model_plan", _P, _P)
for _name in ("mgc_model_vocab", "mgc_model_max_seq_len", "mgc_model_max_users"):
    _fn(_name, c_int64, _P)
_fn("mgc_model_eos_ids", c_int, _P, POINTER(c_int32), c_int)
_fn("mgc_model_tokenizer", _P, _P)
_fn("mgc_model_prefill", c_int, _P, c_int, POINTER(c_int32), c_int, c_int, POINTER(c_float), _S)
_fn("mgc_model_decode", c_int, _P, c_int, POINTER(c_int), POINTER(c_int32), POINTER(c_int32), POINTER(c_float), _S)
_fn("mgc_generate_options_init", None, POINTER(GenerateOptions))
_fn("mgc_generate", c_int, _P, POINTER(c_int32), c_int, POINTER(GenerateOptions), POINTER(c_int32), POINTER(c_int),
    _S)
_fn("mgc_model_eval", c_int, _P, c_char_p, c_int64, POINTER(EvalMetrics), _S)
_fn("mgc_tokenizer_load", c_int, c_char_p, POINTER(_P), _S)
_fn("mgc_tokenizer_destroy", None, _P)
_fn("mgc_tokenize", c_int, _P, c_char_p, c_size_t, c_int, POINTER(c_void_p), POINTER(c_size_t), _S)
_fn("mgc_detokenize", c_int, _P, POINTER(c_int32), c_size_t, c_int, POINTER(c_void_p), POINTER(c_size_t), _S)
_fn("mgc_tokenizer_bos", c_int32, _P)
_fn("mgc_tokenizer_eos", c_int32, _P)
_fn("mgc_tokenizer_vocab", c_int64, _P)
