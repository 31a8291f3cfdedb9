// reference.mjs: the expected output for tests/test_tokenizer.c, from an
// implementation nobody on the team wrote: @lenml/tokenizers (a dependency-free
// fork of transformers.js's tokenizers) on the real tokenizer.json files the
// @lenml/tokenizer-{llama2,llama3,qwen3} packages ship.
//
//   node tests/tokenizer/reference.mjs CORPUS --out DIR [--random N] [--seed S]
//
// Writes DIR/<name>/tokenizer.json for every variant tokenizer (below) and, on
// standard output, JSON lines:
//   {"tokenizers": {name: path of its tokenizer.json, ...}, "corpus": entries,
//    "random": N, "seed": S}                                           (first line)
//   {"i": k, "text": T, "r": {name: {"ids": [...], "ids_plain": [...],
//        "dec": D, "dec_skip": D2, "slice": [a, b], "dec_slice": D3}, ...}}
// ids: encode(T) (add_special_tokens true), ids_plain: add_special_tokens false;
// dec / dec_skip: decode(ids) without / with skip_special_tokens; dec_slice:
// decode(ids[a:b]) (byte-level tokenizers only: a slice may cut a character).
// Decoding passes clean_up_tokenization_spaces: false, so that it is the
// tokenizer.json's own decoder (transformers' clean-up is a tokenizer_config
// option on top, which mgc does not implement).
//
// The corpus file: '#' comment lines up to the first line that is exactly
// "%%", then entries separated by "%%" lines (an entry's lines are joined with
// "\n"; an empty entry is the empty string).  --random N appends N random
// strings from a fixed-seed generator.
//
// Known places where this JS reference differs from HuggingFace tokenizers
// (Rust), which mgc follows; the random generator avoids them:
//   - JS's \s includes U+FEFF and excludes U+0085 (Rust/Oniguruma: White_Space)
//   - JS rewrites (?i:'s|...) to [sS]..., so "'\u017F" (long s) is no contraction
//   - Unicode versions: Node's ICU is far newer than PCRE2 10.42's tables, so
//     only characters assigned long ago are generated.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const models = (pkg) => path.join(here, "node_modules", "@lenml", pkg, "models");
const rel = (p) => path.relative(process.cwd(), p);

function usage(msg) {
  process.stderr.write(`reference.mjs: ${msg}\nusage: node reference.mjs CORPUS --out DIR [--random N] [--seed S]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let corpusPath = null, outDir = null, nRandom = 0, seed = 1;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") outDir = args[++i];
  else if (args[i] === "--random") nRandom = Number(args[++i]);
  else if (args[i] === "--seed") seed = Number(args[++i]);
  else if (!corpusPath) corpusPath = args[i];
  else usage(`unexpected argument ${args[i]}`);
}
if (!corpusPath || !outDir || !(nRandom >= 0) || !Number.isInteger(seed)) usage("bad arguments");

// ---- the corpus ----------------------------------------------------------
function readCorpus(p) {
  const lines = fs.readFileSync(p, "utf8").split("\n");
  let i = 0;
  while (i < lines.length && lines[i] !== "%%") i++;
  const entries = [];
  let cur = null;
  for (i++; i < lines.length; i++) {
    if (lines[i] === "%%") {
      entries.push((cur ?? []).join("\n"));
      cur = null;
    } else {
      (cur ??= []).push(lines[i]);
    }
  }
  if (cur !== null) entries.push(cur.join("\n").replace(/\n$/, ""));
  return entries;
}

// ---- random strings --------------------------------------------------------
function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const range = (a, b) => ({ a, b });
// [weight, ranges] -- characters assigned by Unicode 6 or earlier
const POOLS = [
  [30, [range(0x61, 0x7a), range(0x41, 0x5a)]], // ASCII letters
  [12, [range(0x20, 0x20)]], // space
  [8, [range(0x21, 0x2f), range(0x3a, 0x40), range(0x5b, 0x60), range(0x7b, 0x7e)]], // ASCII punctuation
  [8, [range(0x30, 0x39)]], // digits
  [6, ["\n", "\r\n", "\t", "\r", "  ", "\n\n", " \n"]], // line breaks, tabs, runs
  [2, ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re"]], // contractions
  [4, [range(0xa0, 0xff), range(0x100, 0x17e)]], // Latin-1, Latin Extended-A (not U+017F)
  [4, [range(0x300, 0x36f)]], // combining marks
  [3, [range(0x391, 0x3a9), range(0x3b1, 0x3c9), range(0x400, 0x4ff)]], // Greek, Cyrillic
  [5, [range(0x621, 0x64a), range(0x64b, 0x652), range(0x660, 0x669), range(0x6f0, 0x6f9), range(0x60c, 0x60c), range(0x61f, 0x61f)]], // Arabic
  [2, [range(0x5d0, 0x5ea), range(0x905, 0x939), range(0x93e, 0x94d), range(0x966, 0x96f), range(0xe01, 0xe3a)]], // Hebrew, Devanagari, Thai
  [5, [range(0x4e00, 0x9fa5), range(0x3000, 0x3003), range(0xff01, 0xff5e)]], // CJK, fullwidth
  [2, [range(0x3041, 0x3096), range(0x30a1, 0x30fa), range(0xac00, 0xd7a3), range(0x1100, 0x1112), range(0x1161, 0x1175)]], // kana, Hangul, jamo
  [3, [range(0x1f600, 0x1f64f), range(0x1f300, 0x1f320), range(0x1f3fb, 0x1f3ff), range(0xfe0f, 0xfe0f), range(0x200d, 0x200d), range(0x2600, 0x26ff)]], // emoji, modifiers, ZWJ
  [2, [range(0x2000, 0x200a), range(0x2028, 0x2029), range(0x202f, 0x202f), range(0x205f, 0x205f), range(0x3000, 0x3000), range(0x1680, 0x1680), range(0x180e, 0x180e), range(0x200b, 0x200c), range(0xb, 0xc), range(0x1c, 0x1f)]], // other spaces
  [2, [range(0x2010, 0x2027), range(0x2030, 0x205e), range(0x2190, 0x21ff), range(0x2200, 0x22ff), range(0xb2, 0xb3), range(0x2070, 0x2070), range(0x2074, 0x2079), range(0x2150, 0x2182), range(0x2460, 0x249b)]], // punctuation, math, numbers
  [2, [range(0x10330, 0x1034a), range(0x1d400, 0x1d454), range(0x12000, 0x1236e), range(0xe000, 0xe0ff), range(0xfffd, 0xfffd), range(0x1, 0x8), range(0x0, 0x0)]], // supplementary, private use, controls
];
function randomString(rnd) {
  const total = POOLS.reduce((s, p) => s + p[0], 0);
  const len = Math.floor(rnd() * rnd() * 40);
  let s = "";
  for (let k = 0; k < len; k++) {
    let w = rnd() * total, pool = POOLS[0];
    for (const p of POOLS) {
      if (w < p[0]) { pool = p; break; }
      w -= p[0];
    }
    const item = pool[1][Math.floor(rnd() * pool[1].length)];
    if (typeof item === "string") s += item;
    else s += String.fromCodePoint(item.a + Math.floor(rnd() * (item.b - item.a + 1)));
  }
  return s;
}

// ---- the tokenizers ----------------------------------------------------------
const readJSON = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const base = {
  llama2: models("tokenizer-llama2"),
  llama3: models("tokenizer-llama3"),
  qwen3: models("tokenizer-qwen3"),
};
const tokenizers = []; // {name, file, json, config}
for (const [name, dir] of Object.entries(base)) {
  const file = path.join(dir, "tokenizer.json");
  tokenizers.push({ name, file, json: readJSON(file), config: readJSON(path.join(dir, "tokenizer_config.json")) });
}
const byName = Object.fromEntries(tokenizers.map((t) => [t.name, t]));
const clone = (o) => JSON.parse(JSON.stringify(o));
function variant(name, from, edit) {
  const json = clone(byName[from].json);
  edit(json);
  const dir = path.join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "tokenizer.json");
  fs.writeFileSync(file, JSON.stringify(json));
  tokenizers.push({ name, file, json, config: byName[from].config });
}
// Mistral v0.3 / newer HF conversions of SentencePiece BPE: no normalizer, a
// Metaspace pre-tokenizer prepending "▁" to the first piece only, no split.
variant("mistral", "llama2", (j) => {
  j.normalizer = null;
  j.pre_tokenizer = { type: "Metaspace", replacement: "\u2581", add_prefix_space: true, prepend_scheme: "first", split: false };
});
// Llama 3.x: the byte-level post-processor followed by a template adding BOS.
variant("llama3-bos", "llama3", (j) => {
  j.post_processor = {
    type: "Sequence",
    processors: [
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [
          { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } },
        ],
        special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] } },
      },
    ],
  };
});
// Added tokens that swallow the whitespace around them.
variant("qwen3-strip", "qwen3", (j) => {
  for (const t of j.added_tokens) {
    if (t.content === "<think>") t.rstrip = true;
    if (t.content === "</think>") { t.lstrip = true; t.rstrip = true; }
    if (t.content === "<|im_start|>") t.lstrip = true;
  }
});

for (const t of tokenizers)
  t.tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: t.json, tokenizerConfig: t.config });

// ---- run -----------------------------------------------------------------------
const texts = readCorpus(corpusPath);
const nCorpus = texts.length;
const rnd = mulberry32(seed);
for (let k = 0; k < nRandom; k++) texts.push(randomString(rnd));

const out = [];
out.push(JSON.stringify({
  tokenizers: Object.fromEntries(tokenizers.map((t) => [t.name, rel(t.file)])),
  corpus: nCorpus, random: nRandom, seed,
}));
const decode = (t, ids, skip) =>
  ids.length === 0 ? "" : t.tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
texts.forEach((text, i) => {
  const r = {};
  for (const t of tokenizers) {
    const ids = t.tok.encode(text);
    const plain = t.tok.encode(text, { add_special_tokens: false });
    const x = { ids, ids_plain: plain, dec: decode(t, ids, false), dec_skip: decode(t, ids, true) };
    if (t.json.decoder?.type === "ByteLevel" && ids.length > 1) {
      const a = Math.floor(rnd() * ids.length), b = a + 1 + Math.floor(rnd() * (ids.length - a));
      x.slice = [a, b];
      x.dec_slice = decode(t, ids.slice(a, b), false);
    }
    r[t.name] = x;
  }
  out.push(JSON.stringify({ i, text, r }));
});
process.stdout.write(out.join("\n") + "\n");
