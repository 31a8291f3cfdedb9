# Regenerates the files of this directory and cases.tsv (python3, run from
# tests/bad_inputs/).  The files are committed; this records how each was made.
import json, struct, os, copy
os.makedirs('spec',exist_ok=True); os.makedirs('config',exist_ok=True); os.makedirs('checkpoint',exist_ok=True)
os.makedirs('plan',exist_ok=True); os.makedirs('tokenizer',exist_ok=True); os.makedirs('reference',exist_ok=True)
cases=[]  # (file, kind, exit, fragment, comment)
def case(f,kind,frag,comment,exit=1): cases.append((f,kind,str(exit),frag,comment))

GOOD_SPEC=open('../../graphs/meta-llama/Llama-3.2-1B/t3000.graph').read().replace('"../../common/llama.graph"','"../../../graphs/common/llama.graph"')
def spec(name, text, frag, comment):
    open('spec/'+name,'w').write('# BAD INPUT: '+comment+'\n'+text)
    case('spec/'+name,'spec',frag,comment)
body=GOOD_SPEC.split('\n',3)[3]
spec('unclosed_brace.graph', GOOD_SPEC.rstrip().rstrip('}'), 'expected', 'the forward block is never closed')
spec('unknown_op.graph', GOOD_SPEC.replace('rms_norm(x, w"model.norm.weight"','rms_nrom(x, w"model.norm.weight"'), 'rms_nrom', "calls an operation that does not exist (rms_nrom)")
spec('missing_import.graph', GOOD_SPEC.replace('graphs/common/llama.graph','graphs/common/nope.graph'), 'nope.graph', 'imports a file that does not exist')
spec('self_import.graph', 'import "self_import.graph"\n'+GOOD_SPEC, 'import', 'imports itself (an import cycle)')
spec('empty.graph', '', 'nothing to compile', 'an empty spec: a library with nothing in it, so there is nothing to compile')
spec('library_only.graph', 'let a = 2\n', 'nothing to compile', 'only a let: a library, not a bringup')
spec('unknown_config_key.graph', GOOD_SPEC.replace('config.num_hidden_layers','config.num_hiden_layers'), 'num_hiden_layers', 'reads a key config.json does not have (a typo)')
spec('string_as_size.graph', GOOD_SPEC.replace('for i in 0 .. config.num_hidden_layers','for i in 0 .. config.model_type'), 'model_type', 'uses a string from config.json as a loop bound')
spec('unknown_system.graph', GOOD_SPEC.replace(' on t3000',' on t9999'), 't9999', 'names a system with no description in graphs/systems')
spec('huge_literal.graph', GOOD_SPEC.replace('cache max_len=1024','cache max_len=99999999999999999999999'), '99999999999999999999999', 'a number literal far beyond 64 bits')
spec('zero_cache.graph', GOOD_SPEC.replace('cache max_len=1024','cache max_len=0'), 'max_len', 'a KV cache of zero positions')
spec('huge_users.graph', GOOD_SPEC.replace('users=32','users=1000000000'), 'users', 'a billion users in the KV cache')
spec('missing_weight.graph', GOOD_SPEC.replace('w"model.norm.weight"','w"model.nrom.weight"'), 'model.nrom.weight', 'binds a weight the checkpoint does not have (compiled with --model)')
spec('undefined_name.graph', GOOD_SPEC.replace('x = rms_norm(x,','x = rms_norm(y,'), "'y'", 'uses a value that was never defined')
spec('no_return.graph', GOOD_SPEC.replace('  return linear(x, tied w"model.embed_tokens.weight", out=vocab) @col\n',''), 'return', 'the forward returns nothing')
spec('nul_byte.graph', GOOD_SPEC.replace('let rope','let\0rope'), 'unexpected byte 0x00', 'a NUL byte in the middle of the text')
spec('bad_utf8.graph', GOOD_SPEC.replace('let rope','let r\xffope'), 'unexpected byte 0xff', 'bytes that are not UTF-8 in an identifier')
spec('bad_precision.graph', GOOD_SPEC.replace('weights=bf16','weights=fp7'), 'fp7', 'a precision that does not exist')
# fix the bad_utf8 write (str with \xff -> latin1 write)
open('spec/bad_utf8.graph','wb').write(('# BAD INPUT: bytes that are not UTF-8 in an identifier\n'+GOOD_SPEC.replace('let rope','let r\xffope')).encode('latin-1'))

# ---- config.json
base=json.load(open('../fixtures/llama32/config.json'))
def cfg(name, mut, frag, comment, raw=None):
    if raw is None:
        c=copy.deepcopy(base); mut(c); txt=json.dumps(c,indent=2)
    else: txt=raw
    open('config/'+name,'w').write(txt)
    case('config/'+name,'config',frag,comment)
def setk(k,v):
    def f(c): c[k]=v
    return f
def delk(k):
    def f(c): del c[k]
    return f
cfg('vocab_zero.json', setk('vocab_size',0), "'vocab_size' is 0, expected an integer in [1, 16777216]", 'vocab_size 0 (finding 5)')
cfg('rope_theta_inf.json', None, "'rope_theta' is not a finite number", 'rope_theta 1e999, infinity once parsed (finding 5)', raw=json.dumps(base,indent=2).replace('"rope_theta": 500000.0','"rope_theta": 1e999'))
cfg('hidden_2_62.json', setk('hidden_size',2**62), "'hidden_size' is 4611686018427387904", 'hidden_size 2^62: rows*cols overflowed in lowering (finding 5)')
cfg('vocab_2_62.json', setk('vocab_size',2**62), "'vocab_size' is 4611686018427387904", 'vocab_size 2^62 (finding 5)')
cfg('intermediate_2_62.json', setk('intermediate_size',2**62), "'intermediate_size' is 4611686018427387904", 'intermediate_size 2^62 (finding 5)')
cfg('layers_zero.json', setk('num_hidden_layers',0), "'num_hidden_layers' is 0, expected an integer in [1, 1024]", 'no layers: compiled and ran a model without layers (finding 6)')
cfg('layers_negative.json', setk('num_hidden_layers',-2), "'num_hidden_layers' is -2", 'a negative layer count (finding 6)')
cfg('layers_20000.json', setk('num_hidden_layers',20000), "'num_hidden_layers' is 20000", '20,000 layers: took 12 s to be refused (finding 4)')
cfg('hidden_one.json', setk('hidden_size',1), "'hidden_size' is 1, expected an integer in [2, 65536]", 'hidden_size 1 (finding 6)')
cfg('max_pos_negative.json', setk('max_position_embeddings',-1), "'max_position_embeddings' is -1", 'max_position_embeddings -1 (finding 6)')
cfg('hidden_string.json', setk('hidden_size','2048'), "'hidden_size' is a string, expected an integer", 'a size given as a string')
cfg('hidden_fraction.json', setk('hidden_size',256.5), "'hidden_size' is 256.5", 'a size with a fraction')
cfg('heads_zero.json', setk('num_attention_heads',0), "'num_attention_heads' is 0", 'no attention heads')
cfg('kv_heads_negative.json', setk('num_key_value_heads',-8), "'num_key_value_heads' is -8", 'a negative number of KV heads')
cfg('eps_negative.json', setk('rms_norm_eps',-1e-5), "'rms_norm_eps' is -1e-05", 'a negative norm epsilon')
cfg('eps_string.json', setk('rms_norm_eps','1e-5'), "'rms_norm_eps' is a string", 'an epsilon given as a string')
cfg('theta_zero.json', setk('rope_theta',0), "'rope_theta' is 0", 'a RoPE base of zero (every frequency would be inf)')
cfg('rope_factor_negative.json', lambda c: c['rope_scaling'].__setitem__('factor',-8.0), "'rope_scaling.factor' is -8", 'a negative RoPE scaling factor')
cfg('head_dim_huge.json', setk('head_dim',1<<40), "'head_dim' is 1099511627776", 'head_dim 2^40')
cfg('missing_hidden.json', delk('hidden_size'), "hidden_size", 'hidden_size is missing')
cfg('not_object.json', None, 'expected an object', 'the top level is an array', raw='[1, 2, 3]\n')
cfg('truncated.json', None, 'invalid JSON', 'the file ends in the middle of the object', raw=json.dumps(base,indent=2)[:200])
cfg('trailing_comma.json', None, 'invalid JSON', 'a trailing comma (not JSON)', raw='{"hidden_size": 2048,}\n')
cfg('empty.json', None, 'invalid JSON', 'an empty file', raw='')
cfg('nul_byte.json', None, 'NUL', 'a NUL byte inside the JSON', raw='{"hidden_size": 2048\0}\n')
cfg('inf_in_list.json', lambda c: c.__setitem__('extra',[1,2]), "'extra.1' is not a finite number", 'a non-finite number in a list no spec reads', raw=None)
t=open('config/inf_in_list.json').read().replace('2\n  ]','1e400\n  ]'); open('config/inf_in_list.json','w').write(t)
cfg('sliding_window_bool.json', setk('sliding_window',True), "'sliding_window' is a boolean", 'a window size given as a boolean')

# ---- safetensors checkpoints (model.safetensors of a model dir with the llama32 config)
def st(name, raw, frag, comment):
    open('checkpoint/'+name,'wb').write(raw); case('checkpoint/'+name,'checkpoint',frag,comment)
def hdr(h, data=b'', pad=True):
    b=json.dumps(h).encode(); return struct.pack('<Q',len(b))+b+data
st('empty.safetensors', b'', 'empty', 'an empty file')
st('short.safetensors', b'\x01\x02\x03', 'too short', 'three bytes: shorter than the header length')
st('huge_header_len.safetensors', struct.pack('<Q',2**63)+b'{}', 'larger than', 'a header length of 2^63')
st('header_past_end.safetensors', struct.pack('<Q',1000)+b'{}', 'runs past the end', 'the header length runs past the end of the file')
st('header_not_json.safetensors', struct.pack('<Q',5)+b'hello', 'not valid JSON', 'the header is not JSON')
st('header_array.safetensors', hdr([1,2]), 'expected an object', 'the header is a JSON array')
st('header_nul.safetensors', struct.pack('<Q',4)+b'{\0}\n', 'NUL', 'a NUL byte in the header')
st('unknown_dtype.safetensors', hdr({"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}},b'\0'), 'F8', 'an unknown dtype')
st('negative_dim.safetensors', hdr({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}},b'\0'*4), 'shape', 'a negative dimension')
st('shape_overflow.safetensors', hdr({"a":{"dtype":"F32","shape":[2**32,2**32,2**32],"data_offsets":[0,4]}},b'\0'*4), "'a'", 'a shape whose element count overflows 64 bits')
st('offsets_past_end.safetensors', hdr({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}},b'\0'*4), "'a'", 'data_offsets past the end of the data')
st('offsets_size_mismatch.safetensors', hdr({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}},b'\0'*8), "'a'", 'data_offsets cover 4 bytes, the shape needs 8')
st('offsets_reversed.safetensors', hdr({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}},b'\0'*8), "'a'", 'data_offsets with begin after end')
st('overlap.safetensors', hdr({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}},b'\0'*12), 'overlap', 'two tensors share bytes')
st('too_many_dims.safetensors', hdr({"a":{"dtype":"U8","shape":[1]*9,"data_offsets":[0,1]}},b'\0'), "'a'", 'nine dimensions (the limit is 8)')
st('metadata_not_string.safetensors', hdr({"__metadata__":{"format":1}}), '__metadata__', 'a metadata value that is not a string')
st('missing_dtype.safetensors', hdr({"a":{"shape":[1],"data_offsets":[0,1]}},b'\0'), 'dtype', 'a tensor without a dtype')
st('no_tensors_for_model.safetensors', hdr({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}},b'\0'*4), 'model.embed_tokens.weight', 'a valid file without the tensors the spec binds')
st('wrong_shape_for_model.safetensors', None or b'', '', '')  # placeholder, replaced below
cases.pop(); os.remove('checkpoint/wrong_shape_for_model.safetensors')

# ---- tokenizer.json
tok=json.load(open('../tokenizer/tiny_bytelevel.json'))
def tk(name, mut, frag, comment, raw=None):
    if raw is None:
        c=copy.deepcopy(tok); mut(c); txt=json.dumps(c)
    else: txt=raw
    open('tokenizer/'+name,'w').write(txt); case('tokenizer/'+name,'tokenizer',frag,comment)
tk('empty_vocab.json', lambda c: (c['model'].__setitem__('vocab',{}), c['model'].__setitem__('merges',[]), c.__setitem__('added_tokens',[])), 'vocabulary is empty', 'an empty vocabulary: encoded "hello" to nothing (finding 2)')
tk('not_json.json', None, 'JSON', 'not JSON', raw='{"model": ')
tk('no_model.json', lambda c: c.pop('model'), 'model', 'no model')
tk('wordpiece.json', lambda c: c['model'].__setitem__('type','WordPiece'), 'WordPiece', 'an unsupported model type')
tk('negative_id.json', lambda c: c['model']['vocab'].__setitem__(next(iter(c['model']['vocab'])), -1), 'expected an id', 'a negative token id')
tk('huge_id.json', lambda c: c['model']['vocab'].__setitem__('zzzz', 2**30), 'the limit is 16777215', 'a token id of 2^30 (ids must be below 2^24)')
tk('merge_unknown.json', lambda c: c['model']['merges'].append('qqq www'), 'not in the vocabulary', 'a merge of tokens the vocabulary does not have')
tk('unknown_normalizer.json', lambda c: c.__setitem__('normalizer', {"type":"Lowercase2"}), 'Lowercase2', 'an unknown normalizer')
tk('truncation.json', lambda c: c.__setitem__('truncation', {"max_length":5}), 'truncation', 'truncation is declared (mgc never truncates)')
tk('bad_regex.json', lambda c: c.__setitem__('pre_tokenizer', {"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated","invert":False}), 'pre_tokenizer', 'a Split pre-tokenizer with an invalid regex')
tk('template_bad_id.json', lambda c: c.__setitem__('post_processor', {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[-5],"tokens":["<s>"]}}}), 'expected a token id', "a TemplateProcessing special token with id -5 (leaked 4 bytes, finding 3)")
tk('top_array.json', None, 'object', 'the top level is an array', raw='[]')



# ---- plans: edits of a plan compiled fresh by the test (the plan format may grow;
# an edit keeps each case one precise fault)
def pl(name, old, new, frag, comment):
    open('plan/'+name,'w').write('# BAD INPUT: '+comment+'\n'+old+'\n'+new+'\n'); case('plan/'+name,'plan',frag,comment)
pl('version.edit','mgc_plan: 2','mgc_plan: 99','mgc_plan','an unknown plan format version')
pl('yaml_syntax.edit','mgc_plan: 2','mgc_plan: [1','YAML','not YAML (an unclosed flow sequence)')
pl('devices.edit','  devices: 8','  devices: 7','devices','7 devices on a 2x4 mesh')
pl('padded_vocab.edit','  padded_vocab: 512','  padded_vocab: 100','padded_vocab','a padded vocabulary smaller than the vocabulary')
pl('dram_negative.edit','  dram_bytes: 12884901888','  dram_bytes: -1','dram','negative DRAM')
pl('max_len_huge.edit','  max_len: 1024','  max_len: 99999999999999999999','max_len','a KV cache length beyond 64 bits')
pl('cols_negative.edit','{id: 3, name: "l0.self_attn.q_proj", cols: 32','{id: 3, name: "l0.self_attn.q_proj", cols: -32','cols','a buffer of negative width')
pl('offset_outside.edit','offset: 525312, size: 32768','offset: 9999999999, size: 32768','past arena_values','a buffer placed outside its arena')
pl('rows_zero.edit','  rows: 1024','  rows: 0','rows','a prefill of zero rows')
pl('theta_nan.edit','  theta: 500000.0','  theta: .nan','theta','a RoPE base that is not a number')
pl('weight_dtype.edit','  dtype: bf16','  dtype: fp3','fp3','a weight dtype that does not exist')
pl('read_outside.edit','read: [[0, 512], [0, 256]]','read: [[0, 512], [0, 9999]]','outside hf_shape','a weight slice read beyond the tensor')
pl('role.edit','  role: embedding','  role: teleport','teleport','an unknown weight role')
pl('live_range.edit','first: 0, last: 11','first: 11, last: 0','lifetime','a buffer whose live range ends before it starts')
pl('arena_small.edit','  arena_values: 1049600','  arena_values: 10','arena','an arena smaller than its buffers')

# ---- reference files (read by mgc eval with the fixture's plan and checkpoint)
V=512; T=3
def ref(name, ents, meta={"prompt_len":"2"}, frag='', comment='', raw=None):
    if raw is None:
        h={}; data=b''
        if meta is not None: h['__metadata__']=meta
        for n,(dt,shape,payload) in ents.items():
            h[n]={"dtype":dt,"shape":shape,"data_offsets":[len(data),len(data)+len(payload)]}; data+=payload
        raw=hdr(h,data)
    open('reference/'+name,'wb').write(raw); case('reference/'+name,'reference',frag,comment)
import array
def f32(vals): return struct.pack('<%df'%len(vals),*vals)
def i64(vals): return struct.pack('<%dq'%len(vals),*vals)
def i32(vals): return struct.pack('<%di'%len(vals),*vals)
ids=('I64',[T],i64([1,2,3]))
logits=('F32',[T,V],f32([0.01*(i%97) for i in range(T*V)]))
ref('logits_i32.safetensors',{"input_ids":ids,"logits":('I32',[T,V],i32([0]*(T*V)))},frag="'logits' is I32",comment='logits stored as I32 were accepted (finding 8)')
ref('input_ids_bf16.safetensors',{"input_ids":('BF16',[T],b'\0\0'*T),"logits":logits},frag="'input_ids' is BF16",comment='token ids stored as BF16')
ref('no_logits.safetensors',{"input_ids":ids},frag="no 'logits'",comment='no logits')
ref('logits_rank1.safetensors',{"input_ids":ids,"logits":('F32',[T*V],logits[2])},frag="'logits'",comment='logits flattened to one dimension')
ref('logits_nan.safetensors',{"input_ids":ids,"logits":('F32',[T,V],f32([float('nan')]+[0.0]*(T*V-1)))},frag='finite',comment='a NaN in the logits')
ref('no_prompt_len.safetensors',{"input_ids":ids,"logits":logits},meta=None,frag='prompt_len',comment='no prompt_len in the metadata')
ref('prompt_len_all.safetensors',{"input_ids":ids,"logits":logits},meta={"prompt_len":"3"},frag='prompt_len',comment='prompt_len leaves no position to decode')
ref('prompt_len_text.safetensors',{"input_ids":ids,"logits":logits},meta={"prompt_len":"two"},frag='prompt_len',comment='prompt_len is not a number')
ref('id_outside_vocab.safetensors',{"input_ids":('I64',[T],i64([1,600,3])),"logits":logits},frag='outside the vocabulary',comment='a token id beyond the vocabulary')
ref('id_negative.safetensors',{"input_ids":('I64',[T],i64([1,-4,3])),"logits":logits},frag='not a token id',comment='a negative token id')
ref('top5_shape.safetensors',{"input_ids":ids,"logits":logits,"top5":('I64',[T,4],i64([0]*(T*4)))},frag='top5',comment='top5 with 4 columns')
ref('top5_f32.safetensors',{"input_ids":ids,"logits":logits,"top5":('F32',[T,5],f32([0.0]*(T*5)))},frag="'top5' is F32",comment='top5 stored as floats')
ref('top5_outside.safetensors',{"input_ids":ids,"logits":logits,"top5":('I64',[T,5],i64([0,1,2,3,9999]*T))},frag='top5',comment='a top-5 id beyond the vocabulary')
ref('hidden_i64.safetensors',{"input_ids":ids,"logits":logits,"hidden_states":('I64',[3,T,256],i64([0]*(3*T*256)))},frag="'hidden_states' is I64",comment='hidden states stored as integers')
ref('hidden_rank2.safetensors',{"input_ids":ids,"logits":logits,"hidden_states":('F32',[T,256],f32([0.0]*(T*256)))},frag='hidden_states',comment='hidden states without the layer dimension')
ref('hidden_inf.safetensors',{"input_ids":ids,"logits":logits,"hidden_states":('F32',[3,T,256],f32([0.0]*(3*T*256-1)+[float('inf')]))},frag='finite',comment='an infinity in the hidden states')
ref('one_token.safetensors',{"input_ids":('I64',[1],i64([1])),"logits":('F32',[1,V],f32([0.0]*V))},meta={"prompt_len":"1"},frag='at least 2',comment='a single token: nothing to compare after the prompt')
ref('vocab_mismatch.safetensors',{"input_ids":ids,"logits":('F32',[T,100],f32([0.0]*(T*100)))},frag='vocabulary',comment='logits of another vocabulary than the plan\'s model')
ref('not_safetensors.safetensors',{},raw=b'input_ids,logits\n1,2\n',frag='header',comment='a CSV file, not safetensors')

with open('cases.tsv','w') as f:
    f.write('# The bad-input catalogue: one line per file of this directory, run by\n# tests/test_bad_inputs.c.  Columns (tab-separated): file, how it is used (the\n# command is in the test), expected exit status, a fragment the error message must\n# contain (besides the file\'s name), and what is wrong with the file.\n')
    for c in cases: f.write('\t'.join(c)+'\n')
print(len(cases))
