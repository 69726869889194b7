"""The tokenizer fixtures' test corpus and chat conversations (tools/make_tokenizer_fixtures.py):
a seeded mix of English prose, code, many scripts, emoji and ZWJ sequences, whitespace and digit
runs, special-token strings and odd characters, and the conversations every family's chat
template is rendered on."""
import random


WORDS = ("the of and to in is was for on that with as by it at from his an were are which this "
         "be or has had not but their first after one new who two its also they been have more "
         "time system memory cache block token sequence model attention decode prefix request "
         "batch engine kernel scheduler throughput latency quick brown fox jumps over lazy dog "
         "naïve café résumé coöperate façade jalapeño Zürich São Paulo Ærøskøbing straße").split()
CONTRACTIONS = ["don't", "I'll", "it's", "WE'RE", "they've", "She'D", "you're", "I'M", "can't",
                "won't", "o'clock", "rock'n'roll", "'tis", "y'all'd've"]
CODE = [
    "int main(int argc, char** argv) {\n\treturn argc > 1 ? 0 : -1;\n}\n",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (size_t i = 0; i < n; ++i) { out[i] = a[i] * b[i] + c; }  // [n] f32\n",
    "    const auto& [key, value] = *it;\n        if (!key.empty()) map[key] += value;\r\n",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%ann%';\n",
    "<div class=\"row\"><a href=\"https://example.com/?q=1&x=2\">link</a></div>\n",
    "x = {'a': [1, 2, 3], \"b\": None, 'c': 3.14e-10}  # comment\n",
    "#include <vector>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n",
    "    \t  \t  mixed\t\ttabs   and    spaces\t\n",
    "fn main() -> Result<(), Box<dyn Error>> { println!(\"{:?}\", v); Ok(()) }\n",
]
SCRIPTS = [
    "人工智能正在改变世界。我们使用分页键值缓存来加速大语言模型的解码。",
    "日本語のテキストも含まれています。カタカナとひらがな、そして漢字。",
    "한국어 문장도 포함됩니다. 토크나이저는 정확해야 합니다.",
    "العربية لغة جميلة، وتكتب من اليمين إلى اليسار. ١٢٣٤٥ أرقام عربية.",
    "עברית נכתבת מימין לשמאל, עם ניקוד: שָׁלוֹם.",
    "हिन्दी भाषा देवनागरी लिपि में लिखी जाती है। क्षत्रिय",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "Русский текст с буквой ё и Ё, ЁЛКА ёлка.",
    "Ελληνικά: Αλφάβητο, ΣΊΣΥΦΟΣ σίσυφος ς.",
    "Tiếng Việt có dấu: Nguyễn, Trần, Lê, Phạm, đường phố.",
    "Combining marks: e\u0301 a\u0308 o\u0302 n\u0303 A\u030a \u1e9b\u0323 (NFC composes them)",
    "Fullwidth ＡＢＣ１２３ and ligatures ﬁ ﬂ ﬀ, superscripts x² ₃ ⅷ ½ ①",
    "Math: ∀x∈ℝ, ∑ᵢ xᵢ² ≤ ∞ → ∫₀¹ f(t) dt ≈ π/4 ± 0.5%",
]
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "🇫🇷🇯🇵", "❤️", "🧑🏿\u200d💻",
         "👩‍❤️‍💋‍👨", "🐍", "🤖", "✨", "1️⃣", "🫠"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u0085", "\u2028",
          "\u200b", "\ufeff"]
SPECIALS = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
            "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<unk>", "<pad>", "<mask>",
            "[multimodal]", "<|im_start", "< |eot_id|>", "<|reserved_special_token_7|>",
            "<unused42>", "<0x41>", "▁", "▁▁hello"]
ODD = ["\x00\x01\x07\x1b[31m\x7f", "\ufffd", "\ue000\uf8ff", "\U0010fffd", "\uffff",
       "ﬀﬀﬀ", "a\u0300\u0301\u0302\u0303\u0304", "ǅǈǋ", "ſ's 'ſ", "İstanbul ıi", "K\u212a",
       "ß ẞ", "...!!!???", "--==**##", "\"'`", "’s ’S", "'S 'T 'RE"]


def make_corpus(seed=1234, target_chars=130_000):
    rng = random.Random(seed)
    docs = []

    def prose(n):
        out = []
        for _ in range(n):
            w = rng.choice(WORDS) if rng.random() > 0.08 else rng.choice(CONTRACTIONS)
            if rng.random() < 0.1:
                w = w.capitalize()
            if rng.random() < 0.03:
                w = w.upper()
            out.append(w)
            r = rng.random()
            if r < 0.08:
                out.append(rng.choice([",", ".", ";", ":", "!", "?", " -", "..."]))
        text = " ".join(out)
        return text[0].upper() + text[1:] + "."

    def digits():
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))

    kinds = ["prose", "code", "script", "emoji", "space", "digits", "special", "odd", "mixed",
             "long"]
    while sum(len(d) for d in docs) < target_chars:
        kind = kinds[len(docs) % len(kinds)]
        if kind == "prose":
            doc = "\n\n".join(prose(rng.randint(20, 80)) for _ in range(rng.randint(1, 4)))
        elif kind == "code":
            doc = "".join(rng.choice(CODE) for _ in range(rng.randint(3, 10)))
        elif kind == "script":
            doc = " ".join(rng.choice(SCRIPTS) for _ in range(rng.randint(3, 8)))
        elif kind == "emoji":
            doc = "".join(rng.choice(EMOJI) + rng.choice(["", " ", "a", "\n"])
                          for _ in range(rng.randint(10, 60)))
        elif kind == "space":
            doc = "".join(rng.choice(SPACES) * rng.randint(1, 40) + rng.choice(WORDS)
                          for _ in range(rng.randint(5, 20)))
        elif kind == "digits":
            doc = " ".join(digits() + rng.choice(["", ".", ",", "x", " ", "-", "e+"]) + digits()
                           for _ in range(rng.randint(5, 20)))
        elif kind == "special":
            doc = "".join(rng.choice(SPECIALS) + rng.choice(["", " ", "\n", "  "]) +
                          rng.choice(WORDS) + rng.choice(["", " ", "\n"])
                          for _ in range(rng.randint(5, 20)))
        elif kind == "odd":
            doc = " ".join(rng.choice(ODD) for _ in range(rng.randint(5, 15)))
        elif kind == "mixed":
            parts = [prose(10), rng.choice(CODE), rng.choice(SCRIPTS), rng.choice(EMOJI),
                     rng.choice(SPECIALS), digits(), rng.choice(SPACES) * 5, rng.choice(ODD)]
            rng.shuffle(parts)
            doc = "".join(parts)
        else:  # long words and runs: stress BPE and the regex
            doc = "".join(rng.choice(["a", "b", "ab", "ba"]) for _ in range(300)) + " " + \
                "x" * rng.randint(100, 600) + " " + "🤖" * 30 + " " + " " * 200 + "end" + \
                "\n" * 30 + "一" * 100
        docs.append(doc)
    docs += ["", " ", "a", "\n", "  leading spaces", "trailing spaces   ", "<|eot_id|>",
             "<think>", "<start_of_turn>user\nhi<end_of_turn>"]
    return docs


# ---------------------------------------------------------------------------------------------
# Conversations for the chat templates

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "What is a paged KV cache?"}],
    [{"role": "system", "content": "  Be brief.  "},
     {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": " Tell me a joke.\n"}],
    [{"role": "user", "content": "2+2?"},
     {"role": "assistant", "content": "<think>\nsimple arithmetic\n</think>\n\n4"},
     {"role": "user", "content": "And 3+3?"},
     {"role": "assistant", "content": "<think>\nagain\n</think>\n\n6"}],
    [{"role": "user", "content": "日本語で答えて 🤖"},
     {"role": "assistant", "content": "はい、わかりました。"},
     {"role": "user", "content": "ありがとう"}],
    [{"role": "system", "content": "Multi\nline\nsystem"},
     {"role": "user", "content": "first"},
     {"role": "assistant", "content": "second"},
     {"role": "user", "content": "third"},
     {"role": "assistant", "content": "fourth"},
     {"role": "user", "content": "fifth"}],
    [{"role": "user", "content": "q"},
     {"role": "assistant", "content": "a", "reasoning_content": "thought about it"}],
    [{"role": "user", "content": "Hi"}, {"role": "user", "content": "again"}],  # Gemma raises
    [{"role": "system", "content": "Use tools when needed."},
     {"role": "user", "content": "What is the weather in Paris?"},
     {"role": "assistant", "content": "", "tool_calls": [
         {"type": "function", "function": {"name": "get_weather",
                                           "arguments": {"city": "Paris", "unit": "celsius"}}}]},
     {"role": "tool", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
     {"role": "assistant", "content": "It is 21.5 °C and clear in Paris."}],
]

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}]
