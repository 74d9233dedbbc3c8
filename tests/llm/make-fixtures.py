#!/usr/bin/env python3
"""Regenerates the reference fixtures of tests/llm/ from Hugging Face
transformers / tokenizers (PyTorch on the CPU).  Needs: torch, transformers,
tokenizers, gguf, accelerate (pip), a built ./vigil, the real models in
var/models/ (tests/llm/fetch-models.sh) and ../shared/models/qwen2-tokenizer.

    python3 tests/llm/make-fixtures.py [tok] [tokreal] [real] [mk] [hf]

Writes (all small, committed):
  fixtures/tok_corpus.json   the tokenizer corpus (strings as hex bytes)
  fixtures/tok_qwen2.json    HF ids of each corpus string, Qwen2 vocabulary
  fixtures/tok_smollm2.json  llama.cpp ids of each corpus string, SmolLM2 vocabulary
  fixtures/real_<model>.json top-k logits and greedy continuations, real GGUFs
  fixtures/mk_<arch>_<type>.json the same for `vigil llm mkmodel` models
  fixtures/hf_<name>/        tiny Hugging Face checkpoints (bf16 safetensors,
                             config, tokenizer) of real configurations' geometry
  fixtures/hf_<name>.json    transformers' logits / greedy ids / token ids on them
`make test` compares against these files without PyTorch.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(HERE, "fixtures")
SHARED = os.path.join(ROOT, "..", "shared", "models", "qwen2-tokenizer")
os.makedirs(FIX, exist_ok=True)


def dump(name, obj):
    with open(os.path.join(FIX, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", name)


# ---- tokenizer corpus ----------------------------------------------------------------

def corpus():
    rnd = random.Random(20261126)
    out = []
    words = ["backup", "nightly", "db-dump", "rotate_logs", "cert-renew", "sync", "report",
             "cleanup", "index", "mailer", "ping", "vigil", "healthcheck", "cron", "tmp"]
    for i in range(300):  # cron lines
        m = rnd.choice(["*", "0", "*/5", "15", "0,30", "1-5"])
        h = rnd.choice(["*", "3", "*/2", "0-23/4", "12"])
        cmd = "/usr/local/bin/%s.sh" % rnd.choice(words)
        tag = rnd.choice(["", "  # vigil: %s" % rnd.choice(words), " >/dev/null 2>&1"])
        out.append("%s %s * * %s %s%s" % (m, h, rnd.choice(["*", "1-5", "0"]), cmd, tag))
        out.append("vigil run %s --timeout %dm -- %s --verbose" % (rnd.choice(words), rnd.randint(1, 90), cmd))
    errs = ["No such file or directory", "Permission denied", "command not found",
            "Connection refused", "Killed", "Segmentation fault (core dumped)", "exit status 137",
            "pg_dump: error: connection to server failed", "rsync error: some files could not be transferred (code 23)"]
    for i in range(250):  # shell errors
        out.append("/bin/sh: %d: %s: %s" % (rnd.randint(1, 400), rnd.choice(words), rnd.choice(errs)))
        out.append("%s[%d]: %s at 2026-%02d-%02dT%02d:%02d:%02dZ" % (
            rnd.choice(words), rnd.randint(100, 99999), rnd.choice(errs), rnd.randint(1, 12),
            rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)))
    for i in range(150):  # python tracebacks
        out.append('Traceback (most recent call last):\n  File "/srv/%s.py", line %d, in <module>\n'
                   '    main()\n%s: %s\n' % (rnd.choice(words), rnd.randint(1, 999),
                                            rnd.choice(["KeyError", "ValueError", "OSError", "RuntimeError"]),
                                            rnd.choice(errs)))
    for i in range(200):  # json
        obj = {"slug": rnd.choice(words), "status": rnd.choice(["up", "down", "grace", "late"]),
               "exit_code": rnd.randint(0, 255), "duration_ms": rnd.randint(0, 10 ** 7),
               "tail": rnd.choice(errs)}
        out.append(json.dumps(obj, indent=rnd.choice([None, 2])))
    uni = ["héllo wörld", "Ünïcödé façade naïve", "日本語のテキスト", "中文字符测试", "한국어 텍스트",
           "Привет, мир", "مرحبا بالعالم", "שלום עולם", "ελληνικά", "🚀🔥💾 emoji ✅❌", "👨‍👩‍👧‍👦 family",
           "🇫🇷🇯🇵 flags", "math: ∑∫√∞ ≤ ≥ ≠", "tab\tsep\tvalues", "zero\u200bwidth", "e\u0301 combining",
           "\u00a0nbsp\u2003em space", "½ ¾ ² ³ ⅞", "١٢٣ ٤٥٦ arabic digits", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters"]
    for i in range(300):  # unicode mixtures
        k = rnd.randint(1, 4)
        out.append(" ".join(rnd.choice(uni) for _ in range(k)))
    ws = [" ", "  ", "\t", "\n", "\n\n", "\r\n", "   \n", " \t ", "\u3000"]
    for i in range(200):  # whitespace runs
        out.append("".join(rnd.choice(ws) + rnd.choice(["", "a", "word", "x1", "!", "42"]) for _ in range(rnd.randint(1, 8))))
    for i in range(150):  # digits, contractions, punctuation
        out.append("%d %s %d.%d %s" % (rnd.randint(0, 10 ** 12), rnd.choice(["I'm", "don't", "we'll", "it's", "THEY'RE", "you'VE"]),
                                      rnd.randint(0, 999), rnd.randint(0, 99), rnd.choice(["!!", "...", "?!", "--", "::", "();"])))
    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    for i in range(100):  # special tokens inside text
        out.append("%suser\n%s%s\n" % (rnd.choice(specials), rnd.choice(errs), rnd.choice(specials)))
    b = [s.encode() for s in out]
    for i in range(150):  # invalid UTF-8
        raw = bytearray(rnd.choice(b)[:40])
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randint(0, len(raw))
            raw[pos:pos] = bytes([rnd.choice([0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0xfe])])
        b.append(bytes(raw))
    b += [b"", b" ", b"\n", b"a", "é".encode(), b"\xe2\x82", b"\xf0\x9f\x98"]
    return b


def make_tok():
    from transformers import AutoTokenizer
    c = corpus()
    dump("tok_corpus.json", [s.hex() for s in c])
    if not os.path.isdir(SHARED):
        print("no", SHARED, "- skipping tok_qwen2.json")
        return
    tok = AutoTokenizer.from_pretrained(SHARED)
    ids = [tok.encode(s.decode("utf-8", errors="replace"), add_special_tokens=False) for s in c]
    dump("tok_qwen2.json", ids)


def make_tokreal():
    """SmolLM2's vocabulary: ids from llama.cpp (llama-cpp-python), whose
    "smollm" pre-tokenizer (single digits, then GPT-2's regex) follows the
    model's tokenizer.json; transformers' GGUF conversion drops the digit
    split, so it is not used as the reference here.  (Qwen GGUF vocabularies
    are checked against tok_qwen2.json: the same vocabulary.)"""
    import llama_cpp
    path = os.path.join(ROOT, "var/models/smollm2-135m-instruct-q4_1.gguf")
    c = [bytes.fromhex(h) for h in json.load(open(os.path.join(FIX, "tok_corpus.json")))]
    ll = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    ids = [ll.tokenize(s.decode("utf-8", "replace").encode(), add_bos=False, special=True) for s in c]
    dump("tok_smollm2.json", ids)


# ---- models --------------------------------------------------------------------------

PROMPTS = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "The cron job backup-db failed with exit code 2 at 03:00. Summary:",
    "def fibonacci(n):\n",
]


def model_fixture(path, ids_list, n_greedy, positions_per, topk=8):
    import torch
    from transformers import AutoModelForCausalLM
    d, f = os.path.dirname(path), os.path.basename(path)
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    m.eval()
    cases = []
    for ids in ids_list:
        x = torch.tensor([ids])
        with torch.no_grad():
            lg = m(x).logits[0]
        n = len(ids)
        pos = sorted(set([0, n // 2, n - 1] + list(range(max(0, n - positions_per), n))))
        tk = []
        for p in pos:
            v, i = torch.topk(lg[p], topk)
            tk.append([[int(a), float(b)] for a, b in zip(i, v)])
        case = {"ids": ids, "positions": pos, "topk": tk}
        if n_greedy:
            with torch.no_grad():
                out = m.generate(x, max_new_tokens=n_greedy, do_sample=False, eos_token_id=None,
                                 pad_token_id=0, attention_mask=torch.ones_like(x))
            case["greedy"] = [int(t) for t in out[0][n:]]
        cases.append(case)
    return cases


def make_real():
    from transformers import AutoTokenizer
    models = {
        "smollm2": os.path.join(ROOT, "var/models/smollm2-135m-instruct-q4_1.gguf"),
        "qwen05": os.path.join(ROOT, "var/models/qwen2.5-coder-0.5b-instruct.gguf"),
    }
    for name, path in models.items():
        if not os.path.exists(path):
            print("missing", path, "- run tests/llm/fetch-models.sh")
            continue
        tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
        ids = [tok.encode(p, add_special_tokens=False) for p in PROMPTS]
        cases = model_fixture(path, ids, 32 if name == "qwen05" else 64, 4)
        for c, p in zip(cases, PROMPTS):
            c["prompt"] = p
        dump("real_%s.json" % name, {"model": os.path.basename(path), "cases": cases})


MK = [("qwen2", ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q4_K", "q6_K"]),
      ("llama", ["f32", "f16", "q4_K"]),
      ("qwen3", ["f32", "bf16", "q8_0"])]


def mk_args(arch, typ):
    a = ["--arch", arch, "--layers", "2", "--embd", "256", "--heads", "4", "--kv-heads", "2",
         "--ff", "512", "--type", typ, "--seed", "7"]
    if arch == "qwen3":
        # head_dim 128 (transformers' GGUF loader takes Qwen3Config's default
        # head_dim, not attention.key_length): q width 512 != embedding 256
        a += ["--head-dim", "128", "--untied"]
    return a


def make_mk():
    vigil = os.path.join(ROOT, "vigil")
    rnd = random.Random(5)
    ids = [[rnd.randrange(0, 300) for _ in range(24)], [rnd.randrange(0, 300) for _ in range(9)]]
    with tempfile.TemporaryDirectory() as td:
        only = os.environ.get("MK_ONLY")
        for arch, types in MK:
            if only and arch != only:
                continue
            for typ in types:
                path = os.path.join(td, "mk_%s_%s.gguf" % (arch, typ))
                subprocess.run([vigil, "llm", "mkmodel", "--out", path] + mk_args(arch, typ), check=True)
                greedy = 64 if typ in ("f32", "f16", "bf16") else 0
                cases = model_fixture(path, ids, greedy, 3)
                dump("mk_%s_%s.json" % (arch, typ), {"args": mk_args(arch, typ), "cases": cases})


# ---- Hugging Face checkpoints for `vigil llm convert` ---------------------------------

HF = {
    # real configurations' geometry (head_dim 64, GQA, biases, qk-norm, tying,
    # rope base, eps), reduced in width and depth
    "qwen25": dict(model_type="qwen2", arch="Qwen2ForCausalLM", hidden_size=128, num_attention_heads=2,
                   num_key_value_heads=1, intermediate_size=192, rope_theta=1000000.0, rms_norm_eps=1e-6,
                   tie_word_embeddings=True),
    "qwen3": dict(model_type="qwen3", arch="Qwen3ForCausalLM", hidden_size=128, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=64, intermediate_size=192, rope_theta=1000000.0,
                  rms_norm_eps=1e-6, tie_word_embeddings=False),
    "smollm2": dict(model_type="llama", arch="LlamaForCausalLM", hidden_size=128, num_attention_heads=2,
                    num_key_value_heads=1, intermediate_size=192, rope_theta=100000.0, rms_norm_eps=1e-5,
                    tie_word_embeddings=True),
}

QWEN_RE = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def make_tokenizer(kind, out):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, decoders, trainers, Regex
    tok = Tokenizer(models.BPE())
    if kind == "qwen":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN_RE), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tr = trainers.BpeTrainer(vocab_size=512, special_tokens=specials, show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = [s.decode("utf-8", "replace") for s in corpus()]
    tok.train_from_iterator(text, tr)
    tok.save(os.path.join(out, "tokenizer.json"))
    return tok


def make_hf():
    import torch
    import transformers
    from safetensors.torch import save_file
    for name, h in HF.items():
        out = os.path.join(FIX, "hf_" + name)
        os.makedirs(out, exist_ok=True)
        tok = make_tokenizer("llama" if h["model_type"] == "llama" else "qwen", out)
        nv = tok.get_vocab_size()
        cfg_cls = getattr(transformers, h["arch"].replace("ForCausalLM", "Config"))
        kw = {k: v for k, v in h.items() if k not in ("model_type", "arch")}
        cfg = cfg_cls(vocab_size=nv, num_hidden_layers=2, max_position_embeddings=4096,
                      bos_token_id=0, eos_token_id=2, **kw)
        if h["model_type"] == "qwen2":
            cfg.use_sliding_window = False
        torch.manual_seed(11)
        model = getattr(transformers, h["arch"])(cfg)
        with torch.no_grad():  # larger weights than the default init: peakier, less tie-prone logits
            for n_, p in model.named_parameters():
                if p.dim() == 2:
                    p.mul_(3.0)
                elif "norm" in n_:
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                else:
                    p.copy_(0.2 * torch.randn_like(p))
        model = model.to(torch.bfloat16)
        model.config.save_pretrained(out)
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        if cfg.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                       "chat_template": CHATML}, f, indent=1)
        # the reference is the checkpoint as saved, loaded afresh (casting the
        # live model to bf16 would also round its RoPE frequency buffer), run
        # in float64
        model = getattr(transformers, h["arch"]).from_pretrained(out, dtype=torch.float64).eval()
        texts = ["The cron job backup-db failed with exit code 2 at 03:00.",
                 "<|im_start|>user\nSummarize: job sync is late (expected 04:00).<|im_end|>\n<|im_start|>assistant\n",
                 "naïve café 日本 e\u0301 12345 🚀"]
        cases = []
        for t in texts:
            ids = tok.encode(t).ids
            x = torch.tensor([ids])
            with torch.no_grad():
                lg = model(x).logits[0]
                g = model.generate(x, max_new_tokens=64, do_sample=False, eos_token_id=None, pad_token_id=0,
                                   attention_mask=torch.ones_like(x))
            n = len(ids)
            pos = list(range(n))
            tk = []
            for p in pos:
                v, i = torch.topk(lg[p], 8)
                tk.append([[int(a), float(b)] for a, b in zip(i, v)])
            cases.append({"text": t, "ids": ids, "positions": pos, "topk": tk,
                          "greedy": [int(z) for z in g[0][n:]]})
        dump("hf_%s.json" % name, {"cases": cases})


if __name__ == "__main__":
    what = sys.argv[1:] or ["tok", "tokreal", "real", "mk", "hf"]
    if "tok" in what:
        make_tok()
    if "tokreal" in what:
        make_tokreal()
    if "mk" in what:
        make_mk()
    if "hf" in what:
        make_hf()
    if "real" in what:
        make_real()
