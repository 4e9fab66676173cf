"""The texts of the all-MiniLM-L6-v2 reference (tests/gen_minilm_reference.py).

Written for attend's tests: short and long sentences, punctuation, accents,
several scripts, numbers, odd whitespace and invisible characters, and a few
texts longer than 256 WordPiece tokens so that truncation is exercised.
texts() returns them in a fixed order; no line contains a newline.
"""

# The first three are the texts whose hidden states are stored for debugging.
_HAND = [
    "The quick brown fox jumps over the lazy dog.",
    "Attention is computed for every pair of tokens, then averaged into one vector.",
    "Café, naïve résumé — déjà vu!",
    "Hello.",
    "Good morning!",
    "It works.",
    "No.",
    "ok",
    "Why?",
    "Thanks a lot :)",
    "See you tomorrow at 9.",
    "Where is the nearest train station?",
    "I left my umbrella on the bus again.",
    "The meeting has been moved to Thursday afternoon.",
    "Please send the invoice before the end of the month.",
    "She plays the cello in a small orchestra on weekends.",
    "Our cat refuses to eat anything but fish.",
    "The bridge was closed for repairs for most of the summer.",
    "He read the whole novel in a single night.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The library opens at 8:30 and closes at 20:00.",
    "A kilometre is 1,000 metres; a mile is about 1.609 km.",
    "Pi is roughly 3.14159, and e is about 2.71828.",
    "The population grew from 1.2 million in 1990 to 2.5 million in 2020.",
    "Call +44 20 7946 0958 or 555-0143 before 5 p.m.",
    "Order #A-1047 shipped on 2024-03-15 (tracking: 1Z999AA10123456784).",
    "The 3rd, 21st and 102nd entries are duplicates.",
    "Version 2.0.1 fixes 17 bugs and adds 3 features.",
    "Temperatures fell to -12°C overnight.",
    "It costs €19.99, £17.50 or $21 depending on the shop.",
    "50% off everything — today only!!!",
    "Wait... what?!",
    "Hmm -- maybe; maybe not.",
    "\"Quoted text\", 'single quotes', and `backticks`.",
    "(Parentheses), [brackets], {braces} and <angle brackets>.",
    "e.g., i.e., etc., vs. and Mr. Smith walked in.",
    "user@example.com wrote: see https://example.org/path?q=1&x=2#top",
    "#hashtag @mention $TICKER ^caret ~tilde |pipe| \\backslash/",
    "A*B+C=D, x^2 - y^2 = (x - y)(x + y).",
    "snake_case, camelCase, kebab-case and SCREAMING_CASE identifiers.",
    "THIS SENTENCE IS WRITTEN ENTIRELY IN CAPITAL LETTERS.",
    "tHiS sEnTeNcE aLtErNaTeS iTs CaSe.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
    "Straße, Fußgänger und Größe sind deutsche Wörter.",
    "L'été dernier, nous sommes allés à la plage près de Cannes.",
    "Où est la bibliothèque ? Elle est fermée aujourd'hui.",
    "El niño comió una manzana y bebió jugo de piña.",
    "¿Dónde está el baño? ¡Gracias!",
    "A ação foi concluída com êxito em São Paulo.",
    "Zażółć gęślą jaźń.",
    "Ça ne coûte qu'un euro.",
    "Şu an İstanbul'da hava çok güzel.",
    "Tiếng Việt có nhiều dấu thanh điệu.",
    "Ångström, Øresund and Æsir are Nordic words.",
    "Crème brûlée and jalapeño on the same menu.",
    "The naïve coöperation of the façade's owner.",
    "Москва — столица России.",
    "Привет, как дела?",
    "Η γλώσσα είναι ελληνική.",
    "Αλφα, βήτα, γάμμα και δέλτα.",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีครับ",
    "我喜欢学习新的语言。",
    "今天天气很好，我们去公园散步吧。",
    "北京是中国的首都。",
    "東京は日本の首都です。",
    "ありがとうございます。",
    "カタカナとひらがなと漢字が混ざっています。",
    "안녕하세요, 만나서 반갑습니다.",
    "The word 中文 appears inside an English sentence.",
    "Mixed: English, français, 日本語, 한국어 and русский in one line.",
    "Emoji test 🙂👍🎉 at the end 🚀",
    "🙂",
    "?!",
    "...",
    "----",
    "a",
    "I",
    "x y z",
    "1 2 3 4 5 6 7 8 9 10",
    "0",
    "1234567890",
    "3.141592653589793238462643383279",
    "tab\tseparated\tvalues in one line",
    "double  spaces   and    more     spaces",
    "  leading and trailing spaces  ",
    "non\u00a0breaking\u00a0spaces between words",
    "zero\u200bwidth\u200bspaces hide here",
    "soft\u00adhyphen in the middle of a word",
    "combining accents: e\u0301 versus \u00e9",
    "ﬁ and ﬂ are ligatures; ① and ² are compatibility forms.",
    "Full-width ＡＢＣ１２３ characters.",
    "The Roman numeral Ⅻ means twelve.",
    "antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
    "Supercalifragilisticexpialidocious!",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "unbelievably unhappy unrecoverable misunderstandings",
    "The embeddings of similar sentences should be close together.",
    "Sentence embeddings map text to a fixed-size vector.",
    "A dog is running across the field.",
    "A puppy runs through the grass.",
    "The stock market fell sharply on Monday.",
    "Shares dropped steeply at the start of the week.",
    "The recipe needs two eggs, a cup of flour and some milk.",
    "Preheat the oven to 180 degrees before baking.",
    "The patient was given antibiotics for the infection.",
    "The doctor prescribed a course of penicillin.",
    "The spacecraft entered orbit around Mars last night.",
    "Astronomers discovered a new moon orbiting Jupiter.",
    "How do I reset my password?",
    "I forgot my login credentials, what should I do?",
    "The train was delayed by forty minutes because of snow.",
    "Heavy snowfall disrupted rail services across the region.",
    "Photosynthesis converts light energy into chemical energy.",
    "Plants use sunlight to make sugar from water and carbon dioxide.",
    "The committee will vote on the proposal next week.",
    "Voting on the motion has been postponed.",
    "My favourite colour is green; my brother's is blue.",
    "The museum's new exhibition opens on Friday.",
    "A gentle breeze moved the curtains.",
    "The old lighthouse still guides ships at night.",
    "Children were building sandcastles on the beach.",
    "The violinist tuned her instrument before the concert.",
    "The software update failed with error code 0x80070005.",
    "Segmentation fault (core dumped)",
    "SELECT name, age FROM users WHERE age > 30 ORDER BY name;",
    "def add(a, b): return a + b",
    "for (int i = 0; i < n; i++) { sum += x[i]; }",
    "<div class=\"note\">Hello &amp; welcome</div>",
    "{\"key\": \"value\", \"list\": [1, 2, 3]}",
    "C:\\Users\\Public\\Documents\\report_final_v2.docx",
    "/usr/local/share/doc/README.md",
    "The ratio was 3:2, and the score ended 2-1.",
    "It happened on 7/4/1976 at 10:45 a.m.",
    "Between 1914-1918 and 1939-1945 the world was at war.",
    "The formula H2O describes water; CO2 is carbon dioxide.",
    "COVID-19, MP3, 4K, USB-C, Wi-Fi and B2B are common tokens.",
    "The year 2000 problem was also called Y2K.",
    "She ran 42.195 km in 3h 12m 05s.",
    "Rate: 1.5e-3 per second, or 0.0015/s.",
    "IP 192.168.0.1 and port 8080 were blocked.",
    "ISBN 978-3-16-148410-0",
    "The answer is forty-two.",
    "one, two, three, four, five, six, seven, eight, nine, ten",
    "First; second: third! fourth? fifth.",
    "Is this the real life? Is this just fantasy?",
    "Yes! No! Maybe?",
    "Don't, can't, won't, shouldn't, y'all, o'clock.",
    "The dogs' owners and the dog's owner met.",
    "rock'n'roll",
    "Mr. and Mrs. O'Brien-Smith live on St. James's Street.",
    "The U.S.A. and the U.K. signed the treaty.",
    "Dr. Jekyll & Mr. Hyde",
    "R&D, Q&A, AT&T and P&G",
    "The well-known, long-term, state-of-the-art method.",
    "A so-called \"expert\" gave a ten-minute talk.",
    "The results (see Table 3) were significant (p < 0.05).",
    "Footnote¹ and footnote² appear below.",
    "Copyright © 2024 Example Corp. All rights reserved.™",
    "The arrow → points right and ← points left.",
    "Math: ∑ x_i, ∫ f(x) dx, √2 ≈ 1.414, ∞ > 0.",
    "Chess: ♔ ♕ ♖ ♗ ♘ ♙",
    "Cards: ♠ ♥ ♦ ♣",
    "Musical notes ♪ ♫",
    "Box drawing ┌─┐ └─┘",
    "Braille ⠓⠑⠇⠇⠕",
    "Private use \ue000 character",
    "Greek question mark ; and ano teleia ·",
    "Ｈｅｌｌｏ　ｗｏｒｌｄ",
    "ＫＡＴＡＫＡＮＡ ｶﾀｶﾅ",
    "The café on the corner serves the best espresso in town.",
    "We hiked for six hours and reached the summit at noon.",
    "The orchestra played Beethoven's Ninth Symphony.",
    "My grandmother taught me how to knit scarves.",
    "The river flooded after three days of heavy rain.",
    "He apologised for arriving late to the interview.",
    "They painted the kitchen a pale shade of yellow.",
    "The festival attracts thousands of visitors every year.",
    "A small bakery opened next to the post office.",
    "The printer is out of paper again.",
    "Remember to water the plants while I am away.",
    "The lecture on quantum mechanics was surprisingly clear.",
    "Our flight was cancelled, so we took the night train.",
    "The garden is full of tulips in April.",
    "The referee stopped the match because of the storm.",
    "The engineer explained how the turbine generates power.",
    "I would like a table for two, please.",
    "Could you speak more slowly?",
    "The battery lasts about ten hours on a full charge.",
    "The children laughed at the clown's tricks.",
    "Fresh bread smells wonderful in the morning.",
    "The mountain village has only one shop.",
    "She solved the puzzle in under a minute.",
    "The novel is set in nineteenth-century Lisbon.",
    "The museum guard asked us not to take photos.",
    "Wind turbines lined the ridge above the valley.",
    "The bus driver waited for the old man to sit down.",
    "Lightning struck the tower twice in one evening.",
    "We need more evidence before drawing any conclusions.",
    "The translation lost some of the poem's rhythm.",
    "Every morning he walks his dog along the canal.",
    "The recipe calls for a pinch of salt and a dash of pepper.",
    "The glacier has retreated several hundred metres since 1950.",
    "Please restart the router and try again.",
    "The contract must be signed by both parties.",
    "A thick fog covered the harbour until noon.",
    "Bees are essential for pollinating many crops.",
    "The telescope revealed thousands of faint galaxies.",
    "The students presented their projects to the class.",
    "An apple a day keeps the doctor away.",
    "Actions speak louder than words.",
    "The early bird catches the worm.",
    "Curiosity killed the cat, but satisfaction brought it back.",
]

# Paragraphs joined into long texts (each longer than 256 WordPiece tokens
# once joined, so sentence-transformers truncates them).
_PARAGRAPH = (
    "The little town sits where two rivers meet, and for most of its history it lived "
    "from the boats that stopped there on their way to the coast. Merchants unloaded "
    "salt, wool and timber on the stone quays, and the inns along the water were full "
    "every night of the year. When the railway arrived in 1871 the boats became fewer, "
    "the inns closed one after another, and the quays were slowly covered with moss. "
    "Today the old warehouses hold a museum, two restaurants and a school of music; in "
    "summer, visitors rent bicycles and follow the towpath for thirty kilometres, past "
    "locks, mills and orchards, until they reach the sea. "
)
_TECH = (
    "A transformer encoder turns a sequence of token embeddings into a sequence of "
    "contextual vectors. Each layer first lets every position attend to every other "
    "position: queries, keys and values are linear projections of the input, the "
    "scores are scaled dot products, a softmax turns them into weights, and the weighted "
    "values are projected back. A residual connection and layer normalisation follow, "
    "then a two-layer feed-forward network with a GELU, another residual connection and "
    "another normalisation. Padding tokens are hidden from the softmax by adding a very "
    "large negative number to their scores. "
)


def texts():
    out = list(_HAND)
    # Long texts: > 256 word pieces, in several flavours.
    out.append(_PARAGRAPH * 2)
    out.append(_TECH * 3)
    out.append((_PARAGRAPH + _TECH) * 2)
    out.append(" ".join(str(i) for i in range(1, 400)))
    out.append("; ".join(f"item {i}: {w}" for i, w in
                         enumerate(["alpha", "beta", "gamma", "delta", "epsilon"] * 30)))
    out.append("日本語の文章です。" * 40)
    out.append("Ünïcödé wörds ärë hérë " * 60)
    # Medium texts made from pairs of the hand-written sentences.
    body = [t for t in _HAND[100:] if len(t) > 30]
    for i in range(0, len(body) - 1, 2):
        out.append(body[i] + " " + body[i + 1])
    for i in range(0, len(body) - 2, 3):
        out.append(" ".join(body[i:i + 3]))
    for t in out:
        assert "\n" not in t and "\r" not in t, t
    return out
